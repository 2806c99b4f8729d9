"""Updates keep users' data: a queue database written by release 0.1.0 opens with today's code and keeps
its pending scenes, queued jobs, sync state, reviews, dead letters and path index.

tests/queue/fixtures/release-0.1.0.db was written by that release's own queue modules (commit a639200):
pending 11-13; sync state 21 (ratingKey 1021) and 22; review 31; dead letter 41; jobs 51 and 52 (retry 2);
path index rows for 1021 and 1022; state last_drain and plex_machine_identifier.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
from types import SimpleNamespace

from queue import dead_letters, pending, reviews
from queue.database import DB_FILE, MIGRATIONS, SCHEMA_VERSION, connect, get_state
from queue.operations import get_record

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "release-0.1.0.db")


def old_release_data_dir(tmp_path) -> str:
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    shutil.copy(FIXTURE, os.path.join(data_dir, DB_FILE))
    return data_dir


def test_migrations_are_numbered_in_order():
    numbers = [number for number, _what, _sql in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1)) and SCHEMA_VERSION == numbers[-1]


def test_release_0_1_0_database_opens_and_keeps_everything(tmp_path):
    data_dir = old_release_data_dir(tmp_path)
    conn = connect(data_dir)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [row.scene_id for row in pending.oldest(conn, 10)] == [11, 12, 13]
        record = get_record(conn, 21)
        assert (record.rating_key, record.section_id, record.content_hash, record.poster_hash) == \
            (1021, 1, "h21", "p21")
        assert get_record(conn, 22).rating_key == 1022
        assert [scene_id for scene_id, _line, _at in reviews.all_lines(conn)] == [31]
        letters = dead_letters.all_letters(conn)
        assert [(letter.scene_id, letter.attempts) for letter in letters] == [(41, 5)]
        assert get_state(conn, "plex_machine_identifier") == "release-010-machine"
        assert "2 synced" in get_state(conn, "last_drain")
    finally:
        conn.close()


def test_release_0_1_0_jobs_and_path_index_are_used_by_todays_worker(tmp_path):
    from plex.index import PathIndex
    from worker.jobs import JobQueue, queued_scene_rows

    data_dir = old_release_data_dir(tmp_path)
    conn = connect(data_dir)
    try:
        jobs = {job["scene_id"]: job for _pqid, job, _status in queued_scene_rows(conn)}
        assert set(jobs) == {51, 52} and jobs[52]["attempt"] == 2 and jobs[52]["kind"] == "no-match"
        queue = JobQueue(data_dir)
        try:
            first = queue.get_nowait()
            assert first is not None and first.scene_id == 51
            queue.ack(first)
        finally:
            queue.close()
        # No Plex is needed to read the index: lookups read SQLite only.
        index = PathIndex(conn, None, [SimpleNamespace(key="1"), SimpleNamespace(key="2")])
        assert [c.rating_key for c in index.lookup("/media/scenes/a.mp4")] == [1021]
        assert index.built_at() == {1: 1_780_000_000.0, 2: 1_780_000_000.0}
    finally:
        conn.close()


def test_opening_twice_changes_nothing_and_a_newer_file_is_left_as_it_is(tmp_path):
    data_dir = old_release_data_dir(tmp_path)
    connect(data_dir).close()
    path = os.path.join(data_dir, DB_FILE)
    raw = sqlite3.connect(path)
    tables = raw.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    # A file from a newer release (the user went back one version): nothing is re-created or lost.
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.execute("CREATE TABLE from_the_future (x INTEGER)")
    raw.commit()
    raw.close()
    conn = connect(data_dir)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {name for name, _sql in tables} | {"from_the_future"} == names
        assert pending.count(conn) == 3
    finally:
        conn.close()
