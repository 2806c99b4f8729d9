"""Low-confidence matches waiting for the user: the review line, kept until the scene changes."""
from __future__ import annotations

import sqlite3
import time

from queue.database import transaction


def record(conn: sqlite3.Connection, scene_id: int, line: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    conn.execute("INSERT INTO reviews(scene_id, line, recorded_at) VALUES (?, ?, ?) ON CONFLICT(scene_id) "
                 "DO UPDATE SET line = excluded.line, recorded_at = excluded.recorded_at", (int(scene_id), line, now))


def resolve(conn: sqlite3.Connection, scene_id: int) -> None:
    conn.execute("DELETE FROM reviews WHERE scene_id = ?", (int(scene_id),))


def all_lines(conn: sqlite3.Connection) -> list[tuple[int, str, float]]:
    return [(r[0], r[1], r[2]) for r in conn.execute("SELECT scene_id, line, recorded_at FROM reviews "
                                                     "ORDER BY scene_id")]


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM reviews").fetchone()[0])


def clear(conn: sqlite3.Connection) -> int:
    with transaction(conn):
        return conn.execute("DELETE FROM reviews").rowcount
