"""The queue database: schema, transactions, damaged files moved aside, lease and drain requests."""
from __future__ import annotations

import os
import sqlite3

import pytest

from queue import dead_letters, drain_request, lease, pending, reviews
from queue.database import DatabaseUnavailable, connect, db_path, get_state, set_state, transaction


def test_fresh_database_uses_wal_and_has_every_table(tmp_path):
    conn = connect(str(tmp_path / "data"))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"pending", "lease", "drain_request", "sync_state", "dead_letters", "reviews", "state"} <= tables


def test_garbage_file_is_moved_aside_not_deleted(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "plexsync.db").write_bytes(b"this is not sqlite" * 100)
    messages = []
    conn = connect(str(data), on_recover=messages.append)
    assert pending.count(conn) == 0
    moved = [p for p in os.listdir(data) if ".damaged-" in p]
    assert len(moved) == 1 and (data / moved[0]).read_bytes().startswith(b"this is not sqlite")
    assert len(messages) == 1 and "moved it to" in messages[0]


def test_missing_data_folder_is_created(tmp_path):
    conn = connect(str(tmp_path / "a" / "b" / "c"))
    assert os.path.exists(db_path(str(tmp_path / "a" / "b" / "c")))
    conn.close()


def test_data_folder_that_is_a_file_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseUnavailable, match="data folder"):
        connect(str(blocker))


def test_transaction_rolls_back_on_error(tmp_path):
    conn = connect(str(tmp_path))
    with pytest.raises(RuntimeError):
        with transaction(conn):
            set_state(conn, "k", "v")
            raise RuntimeError("boom")
    assert get_state(conn, "k") is None


def test_lease_is_exclusive_until_it_expires(tmp_path):
    conn = connect(str(tmp_path))
    assert lease.acquire(conn, "a", ttl=30, now=100)
    assert not lease.acquire(conn, "b", ttl=30, now=110)
    assert lease.live_holder(conn, now=110) == "a"
    assert lease.acquire(conn, "b", ttl=30, now=131)  # a's lease expired (a killed drain)
    assert not lease.renew(conn, "a", now=132)
    pending.record(conn, 1, "hook")
    assert not lease.release_if_nothing_pending(conn, "b")
    pending.clear(conn)
    assert lease.release_if_nothing_pending(conn, "b") and lease.live_holder(conn) is None


def test_drain_request_is_claimed_once_while_recent_or_active(tmp_path):
    conn = connect(str(tmp_path))
    assert drain_request.claim(conn, lambda job: False, now=100)
    drain_request.record_job(conn, "7")
    assert not drain_request.claim(conn, lambda job: False, now=102)   # requested moments ago
    assert not drain_request.claim(conn, lambda job: job == "7", now=200)  # job 7 still queued
    assert drain_request.claim(conn, lambda job: False, now=200)        # job 7 gone: ask again
    drain_request.forget(conn)
    assert drain_request.claim(conn, lambda job: True, now=201)


def test_dead_letters_requeue_and_purge(tmp_path):
    conn = connect(str(tmp_path))
    with transaction(conn):
        dead_letters.add(conn, 5, "no match", 3, {"scene_id": 5}, now=0)
        dead_letters.add(conn, 6, "no match", 3, {"scene_id": 6}, now=10**10)
    assert dead_letters.purge_older_than(conn, 30 * 86400, now=10**10) == 1
    assert dead_letters.requeue_all(conn) == 1
    assert pending.contains(conn, 6) and dead_letters.count(conn) == 0


def test_reviews_are_kept_per_scene(tmp_path):
    conn = connect(str(tmp_path))
    with transaction(conn):
        reviews.record(conn, 3, "LOW CONFIDENCE scene 3 ...")
        reviews.record(conn, 3, "LOW CONFIDENCE scene 3 again")
    assert [r[1] for r in reviews.all_lines(conn)] == ["LOW CONFIDENCE scene 3 again"]


def test_two_connections_do_not_see_database_is_locked(tmp_path):
    a, b = connect(str(tmp_path)), connect(str(tmp_path))
    for i in range(200):
        pending.record(a if i % 2 else b, i, "hook")
    assert pending.count(a) == 200
    assert sqlite3.connect(db_path(str(tmp_path))).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
