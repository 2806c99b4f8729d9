"""Dead letters: jobs that failed for good (no Plex match after every retry), kept with the reason."""
from __future__ import annotations

import sqlite3
import time
from collections import namedtuple  # loaded by sqlite3 anyway; dataclasses would cost the hook ~15 ms

from queue.database import transaction

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# scene_id: int, error: str, attempts: int, failed_at: float, job: dict (the job as it was queued)
DeadLetter = namedtuple("DeadLetter", "scene_id error attempts failed_at job")


def _json():  # noqa: ANN202 - the json module, imported on use: every hook imports this module
    import json  # noqa: PLC0415
    return json


def add(conn: sqlite3.Connection, scene_id: int, error: str, attempts: int, job: dict[str, Any],
        now: float | None = None) -> None:
    now = time.time() if now is None else now
    conn.execute(
        "INSERT INTO dead_letters(scene_id, error, attempts, failed_at, job) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(scene_id) DO UPDATE SET error = excluded.error, attempts = excluded.attempts, "
        "failed_at = excluded.failed_at, job = excluded.job",
        (int(scene_id), error[:2000], int(attempts), now, _json().dumps(job)))


def resolve(conn: sqlite3.Connection, scene_id: int) -> None:
    """The scene synced after all: its dead letter no longer applies. Runs inside the caller's transaction."""
    conn.execute("DELETE FROM dead_letters WHERE scene_id = ?", (int(scene_id),))


def all_letters(conn: sqlite3.Connection) -> list[DeadLetter]:
    rows = conn.execute("SELECT scene_id, error, attempts, failed_at, job FROM dead_letters ORDER BY failed_at")
    return [DeadLetter(r[0], r[1], r[2], r[3], _json().loads(r[4])) for r in rows]


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0])


def requeue_all(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Move every dead letter back to the pending set (task "Retry dead letters")."""
    now = time.time() if now is None else now
    with transaction(conn):
        ids = [r[0] for r in conn.execute("SELECT scene_id FROM dead_letters")]
        for scene_id in ids:
            conn.execute("INSERT INTO pending(scene_id, recorded_at, updated_at, reason, force) "
                         "VALUES (?, ?, ?, 'retry-dead-letter', 1) ON CONFLICT(scene_id) DO UPDATE SET "
                         "recorded_at = excluded.recorded_at, force = 1", (scene_id, now, now))
        conn.execute("DELETE FROM dead_letters")
    return len(ids)


def purge_older_than(conn: sqlite3.Connection, seconds: float, now: float | None = None) -> int:
    now = time.time() if now is None else now
    with transaction(conn):
        cur = conn.execute("DELETE FROM dead_letters WHERE failed_at < ?", (now - seconds,))
    return cur.rowcount
