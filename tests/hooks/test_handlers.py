"""The scene hook's filters and the pending set, against a real queue database."""
from __future__ import annotations

import time

import pytest

from hooks.handlers import (is_scene_pending, mark_scene_pending, on_scene_update, touches_synced_field,
                            unmark_scene_pending)
from queue import pending
from queue.database import connect
from queue.operations import load_sync_timestamps, save_sync_timestamp
from queue.pending import PendingSet
from validation.config import Settings


@pytest.fixture
def queue_db(tmp_path):
    conn = connect(str(tmp_path))
    yield str(tmp_path), conn
    conn.close()


def update(fields=("title", "id"), input_obj=True, **extra):
    data = {"type": "Scene.Update.Post", "input": {"id": "1", "title": "x"} if input_obj else None,
            "inputFields": list(fields)}
    data.update(extra)
    return data


def test_scan_updates_always_count():
    assert touches_synced_field({"input": None})


@pytest.mark.parametrize("fields, expected", [
    (["id", "organized"], False), (["id", "play_count", "resume_time"], False), (["id", "title"], True),
    (["tag_ids", "id"], True), (["cover_image", "id"], True), (["id", "primary_file_id"], True), ([], False),
])
def test_only_synced_fields_count(fields, expected):
    assert touches_synced_field({"input": {"id": "1"}, "inputFields": fields}) is expected


def test_disabled_plugin_records_nothing(queue_db):
    data_dir, conn = queue_db
    assert not on_scene_update(1, update(), PendingSet(conn), data_dir=data_dir,
                               settings=Settings(enabled=False))
    assert pending.count(conn) == 0


def test_irrelevant_update_is_filtered(queue_db):
    data_dir, conn = queue_db
    assert not on_scene_update(1, update(fields=["id", "organized"]), PendingSet(conn), data_dir=data_dir,
                               settings=Settings())
    assert not on_scene_update(1, update(fields=["id", "play_count"]), PendingSet(conn), data_dir=data_dir)
    assert pending.count(conn) == 0


def test_organized_matters_to_a_gate_the_organized_collection_and_unreadable_settings(queue_db):
    data_dir, conn = queue_db
    for scene_id, settings in enumerate((Settings(only_organized=True), Settings(collection_organized=True),
                                         None), 1):
        assert on_scene_update(scene_id, update(fields=["id", "organized"]), PendingSet(conn), data_dir=data_dir,
                               settings=settings)
    assert pending.count(conn) == 3


def test_update_older_than_last_sync_is_filtered(queue_db):
    data_dir, conn = queue_db
    save_sync_timestamp(data_dir, 3, time.time())
    stamps = load_sync_timestamps(data_dir, conn=conn)
    assert not on_scene_update(3, update(updated_at="2020-01-01T00:00:00+01:00"), PendingSet(conn),
                               data_dir=data_dir, sync_timestamps=stamps)
    # Without updated_at in the payload (real Stash never sends it) the update counts as "now".
    assert on_scene_update(3, update(), PendingSet(conn), data_dir=data_dir, sync_timestamps=stamps)


def test_pending_scene_is_refreshed_not_duplicated(queue_db):
    data_dir, conn = queue_db
    q = PendingSet(conn)
    assert on_scene_update(9, update(), q, data_dir=data_dir)
    first = pending.oldest(conn, 10)[0].recorded_at
    time.sleep(0.01)
    assert not on_scene_update(9, update(), q, data_dir=data_dir)
    rows = pending.oldest(conn, 10)
    assert [r.scene_id for r in rows] == [9] and rows[0].recorded_at > first


def test_update_while_job_in_flight_records_a_new_entry(queue_db):
    data_dir, conn = queue_db
    q = PendingSet(conn)
    on_scene_update(4, update(), q, data_dir=data_dir)
    row = pending.oldest(conn, 1)[0]
    assert pending.take(conn, 4, row.recorded_at)  # the drain moved it into the job queue
    assert on_scene_update(4, update(), q, data_dir=data_dir)  # newer state is recorded again
    assert 4 in q


def test_take_keeps_a_row_refreshed_after_it_was_read(queue_db):
    _data_dir, conn = queue_db
    pending.record(conn, 5, "hook", now=100.0)
    row = pending.oldest(conn, 1)[0]
    pending.record(conn, 5, "hook", now=200.0)
    assert not pending.take(conn, 5, row.recorded_at)
    assert pending.contains(conn, 5)


def test_in_memory_pending_set():
    mark_scene_pending(123)
    assert is_scene_pending(123)
    unmark_scene_pending(123)
    assert not is_scene_pending(123)
    unmark_scene_pending(123)  # ending a job twice is harmless
