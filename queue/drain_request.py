"""When a "Process queue" run was last requested, and its Stash job id.

Hooks use it so that a bulk edit or a scan of thousands of files queues one drain, not thousands:
a request made moments ago, or one whose Stash job is still waiting or running, is enough. A job seen
waiting in Stash's queue (not yet started) moments ago is enough too, without asking Stash again: a
job that has not started will still drain every pending scene when it runs, so the hooks of a bulk
edit behind a long scan ask Stash once every RECENT_SECONDS, not once per scene.
"""
from __future__ import annotations

import sqlite3
import time

from queue.database import get_state, set_state, transaction

RECENT_SECONDS = 5.0
SEEN_WAITING_KEY = "drain_request_seen_waiting"  # state row: "<job id> <epoch seconds>"


def claim(conn: sqlite3.Connection, is_job_active, now: float | None = None,
          recent_seconds: float = RECENT_SECONDS) -> bool:
    """Decide whether this process should ask Stash for a drain, and if so reserve the request.

    `is_job_active(job_id) -> bool` asks Stash about a remembered job; it is called outside the
    write transaction so no HTTP call ever holds the database lock.
    """
    now = time.time() if now is None else now
    row = conn.execute("SELECT requested_at, job_id FROM drain_request WHERE id = 1").fetchone()
    if row is not None:
        if now - row["requested_at"] < recent_seconds:
            return False
        if row["job_id"] and (seen_waiting_recently(conn, row["job_id"], now, recent_seconds)
                              or is_job_active(row["job_id"])):
            return False
    with transaction(conn):
        again = conn.execute("SELECT requested_at FROM drain_request WHERE id = 1").fetchone()
        if again is not None and row is not None and again["requested_at"] != row["requested_at"]:
            return False  # another hook reserved it between our read and our write
        if again is not None and row is None:
            return False
        conn.execute("INSERT INTO drain_request(id, requested_at, job_id) VALUES (1, ?, NULL) "
                     "ON CONFLICT(id) DO UPDATE SET requested_at = excluded.requested_at, job_id = NULL", (now,))
    return True


def record_job(conn: sqlite3.Connection, job_id: str) -> None:
    with transaction(conn):
        conn.execute("UPDATE drain_request SET job_id = ? WHERE id = 1", (job_id,))


def forget(conn: sqlite3.Connection) -> None:
    """Called when a request failed, so the next hook tries again at once."""
    with transaction(conn):
        conn.execute("DELETE FROM drain_request WHERE id = 1")


def seen_waiting(conn: sqlite3.Connection, job_id: str, now: float | None = None) -> None:
    """Stash said the requested job is still waiting in its queue (READY): later hooks may rely on that
    for RECENT_SECONDS. Only for a job that has not started: a running one may be about to end."""
    now = time.time() if now is None else now
    with transaction(conn):
        set_state(conn, SEEN_WAITING_KEY, f"{job_id} {now!r}")


def seen_waiting_recently(conn: sqlite3.Connection, job_id: str, now: float,
                          recent_seconds: float = RECENT_SECONDS) -> bool:
    seen_job, _, seen_at = (get_state(conn, SEEN_WAITING_KEY) or "").partition(" ")
    try:
        age = now - float(seen_at)
    except ValueError:
        return False
    return seen_job == job_id and 0 <= age < recent_seconds
