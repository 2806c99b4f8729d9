"""Sync state per scene: when it was last synced (the sync timestamp) and what was written.

`load_sync_timestamps` and `save_sync_timestamp` are the names the original plan uses. The mapping
`load_sync_timestamps` returns reads lazily, one indexed row per lookup, so a hook stays fast even with
a library of 100,000 synced scenes (loading them all would cost more than the hook's whole budget).
"""
from __future__ import annotations

import sqlite3
from collections import namedtuple  # loaded by sqlite3 anyway; dataclasses would cost the hook ~15 ms
from collections.abc import Iterator, Mapping

from queue.database import connect, transaction

# scene_id: int, synced_at: float, stash_updated_at: str | None, rating_key: int | None,
# section_id: int | None, content_hash: str | None, poster_hash: str | None (one sync_state row)
SyncRecord = namedtuple("SyncRecord", "scene_id synced_at stash_updated_at rating_key section_id content_hash "
                                      "poster_hash")


class SyncTimestamps(Mapping):
    """scene id -> last sync time (epoch seconds), read from the queue database on demand."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getitem__(self, scene_id: int) -> float:
        row = self._conn.execute("SELECT synced_at FROM sync_state WHERE scene_id = ?", (int(scene_id),)).fetchone()
        if row is None:
            raise KeyError(scene_id)
        return float(row[0])

    def __iter__(self) -> Iterator[int]:
        for (scene_id,) in self._conn.execute("SELECT scene_id FROM sync_state ORDER BY scene_id"):
            yield int(scene_id)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM sync_state").fetchone()[0])


def load_sync_timestamps(data_dir: str, conn: sqlite3.Connection | None = None) -> Mapping[int, float]:
    return SyncTimestamps(conn if conn is not None else connect(data_dir))


def save_sync_timestamp(data_dir: str, scene_id: int, ts: float, conn: sqlite3.Connection | None = None,
                        **state) -> None:
    """Record a successful sync. Extra keyword state: stash_updated_at, rating_key, section_id,
    content_hash, poster_hash (the row describes this sync; nothing is kept from before).
    Inside a caller's open transaction the row joins it; otherwise it is its own transaction."""
    own = conn is None
    conn = conn if conn is not None else connect(data_dir)
    try:
        if conn.in_transaction:
            save_record(conn, scene_id, ts, **state)
        else:
            with transaction(conn):
                save_record(conn, scene_id, ts, **state)
    finally:
        if own:
            conn.close()


def save_record(conn: sqlite3.Connection, scene_id: int, ts: float, stash_updated_at: str | None = None,
                rating_key: int | None = None, section_id: int | None = None, content_hash: str | None = None,
                poster_hash: str | None = None) -> None:
    """The row write itself, for callers already inside a transaction."""
    conn.execute(
        "INSERT INTO sync_state(scene_id, synced_at, stash_updated_at, rating_key, section_id, content_hash, "
        "poster_hash) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(scene_id) DO UPDATE SET "
        "synced_at = excluded.synced_at, stash_updated_at = excluded.stash_updated_at, "
        "rating_key = excluded.rating_key, section_id = excluded.section_id, "
        "content_hash = excluded.content_hash, poster_hash = excluded.poster_hash",
        (int(scene_id), float(ts), stash_updated_at, rating_key, section_id, content_hash, poster_hash))


def get_record(conn: sqlite3.Connection, scene_id: int) -> SyncRecord | None:
    row = conn.execute("SELECT scene_id, synced_at, stash_updated_at, rating_key, section_id, content_hash, "
                       "poster_hash FROM sync_state WHERE scene_id = ?", (int(scene_id),)).fetchone()
    return SyncRecord(*row) if row else None


def all_records(conn: sqlite3.Connection) -> dict[int, SyncRecord]:
    """Every scene's sync state in one statement (the coverage report reads them all at once)."""
    rows = conn.execute("SELECT scene_id, synced_at, stash_updated_at, rating_key, section_id, content_hash, "
                        "poster_hash FROM sync_state")
    return {int(r[0]): SyncRecord(*r) for r in rows}


def synced_rating_keys(conn: sqlite3.Connection, section_id: int) -> dict[int, int]:
    """Plex ratingKey -> scene id of every synced scene in a section."""
    rows = conn.execute("SELECT rating_key, scene_id FROM sync_state WHERE section_id = ? AND rating_key IS NOT NULL",
                        (int(section_id),))
    return {int(r[0]): int(r[1]) for r in rows}


def forget_scene(conn: sqlite3.Connection, scene_id: int) -> None:
    """A deleted scene: drop its sync state, pending row and review."""
    with transaction(conn):
        for table in ("sync_state", "pending", "reviews", "dead_letters"):
            conn.execute(f"DELETE FROM {table} WHERE scene_id = ?", (int(scene_id),))
