"""The drain lease: at most one process drains the job queue at a time.

persist-queue is thread-safe, not process-safe, so only the lease holder opens it. The holder renews
the lease with a heartbeat; a killed drain stops renewing and its lease simply expires.
"""
from __future__ import annotations

import os
import sqlite3
import time

from queue.database import transaction

DRAIN = "drain"
DEFAULT_TTL = 30.0


def _hostname() -> str:
    # os.uname is what socket.gethostname reads on POSIX; importing socket would cost every hook ~5 ms.
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # noqa: PLC0415 - Windows
    return socket.gethostname()


def new_owner() -> str:
    return f"{_hostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def holder_is_dead(owner: str) -> bool:
    """True when the owner is a process of this machine that no longer exists.

    Stash's Stop is SIGKILL: without this the killed drain's lease would block the user's next press of
    "Process queue" (and make hooks believe a drain is running) until it expires. A reused pid only makes
    us wait for the expiry, the safe direction; another machine's owner is never judged (WAL is one-host).
    """
    parts = owner.split(":")  # new_owner(): "<hostname>:<pid>:<random>"
    if len(parts) < 3 or not parts[-2].isdigit():
        return False
    host, pid = ":".join(parts[:-2]), int(parts[-2])
    if host != _hostname() or pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists but not ours to signal (EPERM): alive
    return False


def acquire(conn: sqlite3.Connection, owner: str, ttl: float = DEFAULT_TTL, name: str = DRAIN,
            now: float | None = None) -> bool:
    now = time.time() if now is None else now
    with transaction(conn):
        row = conn.execute("SELECT owner, expires_at FROM lease WHERE name = ?", (name,)).fetchone()
        if row is not None and row["owner"] != owner and row["expires_at"] > now \
                and not holder_is_dead(row["owner"]):
            return False
        conn.execute(
            "INSERT INTO lease(name, owner, expires_at, acquired_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at, "
            "acquired_at = excluded.acquired_at",
            (name, owner, now + ttl, now))
    return True


def renew(conn: sqlite3.Connection, owner: str, ttl: float = DEFAULT_TTL, name: str = DRAIN,
          now: float | None = None) -> bool:
    """Extend our lease; False when another process took it over (ours had expired)."""
    now = time.time() if now is None else now
    with transaction(conn):
        cur = conn.execute("UPDATE lease SET expires_at = ? WHERE name = ? AND owner = ?", (now + ttl, name, owner))
    return cur.rowcount == 1


def release(conn: sqlite3.Connection, owner: str, name: str = DRAIN) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM lease WHERE name = ? AND owner = ?", (name, owner))


def live_holder(conn: sqlite3.Connection, name: str = DRAIN, now: float | None = None) -> str | None:
    now = time.time() if now is None else now
    row = conn.execute("SELECT owner FROM lease WHERE name = ? AND expires_at > ?", (name, now)).fetchone()
    if row is None or holder_is_dead(row[0]):
        return None  # a killed drain's lease: nobody is draining, so the hook must ask for a run
    return row[0]


def release_if_nothing_pending(conn: sqlite3.Connection, owner: str, name: str = DRAIN) -> bool:
    """Release the lease only if no scene is pending, in one transaction with the check.

    A hook records its scene first and looks at the lease after: either we see its row here (and keep
    draining), or it sees no lease and asks Stash for a new drain. No update can fall between the two.
    """
    with transaction(conn):
        if conn.execute("SELECT 1 FROM pending LIMIT 1").fetchone() is not None:
            return False
        conn.execute("DELETE FROM lease WHERE name = ? AND owner = ?", (name, owner))
    return True
