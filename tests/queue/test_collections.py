"""Schema v2 (managed_collections, scene_collections): a version-1 database is migrated in place and keeps
its pending scenes, sync state, reviews and dead letters."""
from __future__ import annotations

import os
import sqlite3

from queue import collections as managed
from queue.database import MIGRATIONS, SCHEMA_VERSION, connect, db_path, get_state, transaction


def test_version_1_database_is_migrated_and_keeps_its_rows(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    old = sqlite3.connect(db_path(str(data)))
    old.executescript(MIGRATIONS[0][2])  # what release 0.1.0 created
    old.execute("INSERT INTO pending VALUES (7, 1.0, 1.0, 'hook', 0)")
    old.execute("INSERT INTO sync_state(scene_id, synced_at, rating_key, section_id, content_hash) "
                "VALUES (3, 2.0, 1005, 1, 'abc')")
    old.execute("INSERT INTO reviews VALUES (4, 'line', 3.0)")
    old.execute("INSERT INTO dead_letters VALUES (5, 'err', 6, 4.0, '{}')")
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()

    conn = connect(str(data))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    for table, key in (("pending", 7), ("sync_state", 3), ("reviews", 4), ("dead_letters", 5)):
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE scene_id = ?", (key,)).fetchone()[0] == 1
    assert get_state(conn, "collections_legacy") == "1"  # it synced before: adopt the collections it made
    with transaction(conn):
        managed.upsert_wanted(conn, 1, "studio:2", "Blue Harbor", "About", None, False, mark_dirty=True)
    assert [r.name for r in managed.dirty_rows(conn)] == ["Blue Harbor"]
    conn.close()
    assert not [p for p in os.listdir(data) if ".damaged-" in p]


def test_rows_rename_record_and_forget(tmp_path):
    conn = connect(str(tmp_path / "data"))
    assert get_state(conn, "collections_legacy") is None  # a fresh install never adopts
    with transaction(conn):
        managed.upsert_wanted(conn, 1, "group:3", "Series", "Syn", "http://s/group/3/frontimage?t=1", True,
                              mark_dirty=False)
        managed.record_applied(conn, 1, "group:3", rating_key=2001, applied='{"url": "x"}', order_hash="h")
        managed.rename(conn, 1, "group:3", "Series II")
    row = managed.get(conn, 1, "group:3")
    assert (row.name, row.rating_key, row.ordered, row.dirty) == ("Series II", 2001, True, False)
    with transaction(conn):
        managed.upsert_wanted(conn, 1, "group:3", "Series II", "Syn", None, True, mark_dirty=False)
    assert managed.get(conn, 1, "group:3").dirty is False  # unchanged scene: stays clean
    with transaction(conn):
        managed.mark_dirty(conn, 1, ["Series II"])
        managed.set_scene_hash(conn, 9, "h1")
    assert managed.get(conn, 1, "group:3").dirty and managed.scene_hash(conn, 9) == "h1"
    with transaction(conn):
        managed.forget(conn, 1, "group:3")
    assert managed.all_rows(conn) == []
