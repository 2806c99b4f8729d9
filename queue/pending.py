"""The pending set: one row per scene waiting to be synced (scene id is the key).

Hooks write here with plain sqlite3 (never persist-queue, whose open resets other processes' in-flight
jobs). A newer update to a pending scene refreshes its row; the drain later moves rows into the job
queue. Dedup is a primary-key lookup, safe across processes.
"""
from __future__ import annotations

import sqlite3
import time
from collections import namedtuple  # loaded by sqlite3 anyway; dataclasses would cost the hook ~15 ms

from queue.database import transaction

# scene_id: int, recorded_at: float, updated_at: float | None, reason: str, force: bool
PendingScene = namedtuple("PendingScene", "scene_id recorded_at updated_at reason force")


def record(conn: sqlite3.Connection, scene_id: int, reason: str, updated_at: float | None = None,
           force: bool = False, now: float | None = None) -> bool:
    """Record or refresh a pending scene. Returns True when the scene was not pending before."""
    now = time.time() if now is None else now
    with transaction(conn):
        existed = conn.execute("SELECT 1 FROM pending WHERE scene_id = ?", (scene_id,)).fetchone() is not None
        conn.execute(
            "INSERT INTO pending(scene_id, recorded_at, updated_at, reason, force) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(scene_id) DO UPDATE SET recorded_at = excluded.recorded_at, "
            "updated_at = excluded.updated_at, reason = excluded.reason, "
            "force = max(pending.force, excluded.force)",
            (scene_id, now, updated_at if updated_at is not None else now, reason, int(force)),
        )
    return not existed


def record_many(conn: sqlite3.Connection, scene_ids: list[int], reason: str, force: bool = False,
                now: float | None = None) -> int:
    """Record many scenes in one transaction (Sync all / renames). Returns how many were new."""
    now = time.time() if now is None else now
    new = 0
    with transaction(conn):
        for scene_id in scene_ids:
            existed = conn.execute("SELECT 1 FROM pending WHERE scene_id = ?", (scene_id,)).fetchone()
            new += existed is None
            conn.execute(
                "INSERT INTO pending(scene_id, recorded_at, updated_at, reason, force) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(scene_id) DO UPDATE SET recorded_at = excluded.recorded_at, "
                "reason = excluded.reason, force = max(pending.force, excluded.force)",
                (scene_id, now, now, reason, int(force)),
            )
    return new


def contains(conn: sqlite3.Connection, scene_id: int) -> bool:
    return conn.execute("SELECT 1 FROM pending WHERE scene_id = ?", (scene_id,)).fetchone() is not None


def scene_ids(conn: sqlite3.Connection) -> set[int]:
    """Every pending scene id (the coverage report's one read of this table)."""
    return {int(r[0]) for r in conn.execute("SELECT scene_id FROM pending")}


def remove(conn: sqlite3.Connection, scene_id: int) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM pending WHERE scene_id = ?", (scene_id,))


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM pending").fetchone()[0])


def oldest(conn: sqlite3.Connection, limit: int) -> list[PendingScene]:
    rows = conn.execute(
        "SELECT scene_id, recorded_at, updated_at, reason, force FROM pending ORDER BY recorded_at LIMIT ?",
        (limit,)).fetchall()
    return [PendingScene(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def take(conn: sqlite3.Connection, scene_id: int, recorded_at: float) -> bool:
    """Remove a row only if it was not refreshed since it was read (a newer update keeps it pending)."""
    with transaction(conn):
        cur = conn.execute("DELETE FROM pending WHERE scene_id = ? AND recorded_at = ?", (scene_id, recorded_at))
    return cur.rowcount == 1


def clear(conn: sqlite3.Connection) -> int:
    with transaction(conn):
        cur = conn.execute("DELETE FROM pending")
    return cur.rowcount


class PendingSet:
    """The pending set of one queue database, as the hook handler receives it (the plan's `queue`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __contains__(self, scene_id: object) -> bool:
        return isinstance(scene_id, int) and contains(self.conn, scene_id)

    def __len__(self) -> int:
        return count(self.conn)

    def record(self, scene_id: int, reason: str, updated_at: float | None = None, force: bool = False) -> bool:
        return record(self.conn, scene_id, reason, updated_at=updated_at, force=force)
