"""The job queue: persist-queue's SQLiteAckQueue inside the queue database file.

Opened only by the process that holds the drain lease: persist-queue is thread-safe but not
process-safe, and opening it (auto_resume) resets every in-flight row, which is exactly right for the
lease holder (it resumes a killed drain's job) and wrong for anyone else. Jobs are plain JSON dicts
`{scene_id, attempt, not_before, reason, force, enqueued_at, last_error}`; never a `pqid` key (persist-queue
adds its own in raw mode). Acks are by id.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import persistqueue
import persistqueue.serializers.json as json_serializer

from queue.database import BUSY_TIMEOUT_MS, DB_FILE

QUEUE_NAME = "jobs"
TABLE = f"ack_queue_{QUEUE_NAME}"
UNACK = 2  # persistqueue AckStatus.unack: handed out, not yet acked
ACKED = 5  # persistqueue AckStatus.acked


@dataclass
class QueuedJob:
    pqid: int
    data: dict[str, Any]

    @property
    def scene_id(self) -> int:
        return int(self.data["scene_id"])


def new_job(scene_id: int, reason: str, force: bool = False, now: float | None = None) -> dict[str, Any]:
    return {"scene_id": int(scene_id), "attempt": 0, "not_before": 0.0, "reason": reason, "force": bool(force),
            "enqueued_at": time.time() if now is None else now, "last_error": None}


class JobQueue:
    def __init__(self, data_dir: str) -> None:
        self._queue = persistqueue.SQLiteAckQueue(
            path=data_dir, name=QUEUE_NAME, db_file_name=DB_FILE, multithreading=True, auto_resume=True,
            serializer=json_serializer, timeout=BUSY_TIMEOUT_MS / 1000)
        # As on our own connections (queue/database.py): in WAL mode NORMAL keeps every commit across a
        # killed process, which is the failure Stash's Stop causes; persist-queue's default (FULL) adds an
        # fsync to every put and ack, which made them the drain's largest cost after the network.
        for name in ("_conn", "_putter"):
            conn = getattr(self._queue, name, None)
            if isinstance(conn, sqlite3.Connection):
                with self._queue.tran_lock:
                    conn.execute("PRAGMA synchronous=NORMAL")
        self._counter = sqlite3.connect(os.path.join(data_dir, DB_FILE), timeout=BUSY_TIMEOUT_MS / 1000,
                                        check_same_thread=False)

    def put(self, job: dict[str, Any]) -> None:
        assert "pqid" not in job, "persist-queue owns the pqid key"
        self._queue.put(job)

    def get_nowait(self) -> QueuedJob | None:
        try:
            raw = self._queue.get(block=False, raw=True)
        except persistqueue.Empty:  # not queue.Empty: persist-queue 1.1.0 dropped that base class
            return None
        return QueuedJob(pqid=int(raw["pqid"]), data=dict(raw["data"]))

    def ack(self, job: QueuedJob) -> None:
        self._queue.ack(id=job.pqid)

    def nack(self, job: QueuedJob) -> None:
        """Back to ready, same position (used when a drain ends with jobs still waiting)."""
        self._queue.nack(id=job.pqid)

    def requeue(self, job: QueuedJob, data: dict[str, Any]) -> None:
        """Retry = a new row at the tail with the new attempt/not_before, then ack the old one.
        A kill between the two leaves a duplicate, never a loss (jobs are idempotent)."""
        self.put(data)
        self.ack(job)

    def waiting_count(self) -> int:
        """Jobs not yet handed out (persist-queue's ready_count() misses fresh rows: they are 'inited')."""
        row = self._counter.execute(f"SELECT count(*) FROM {TABLE} WHERE status < ?", (UNACK,)).fetchone()
        return int(row[0])

    def retry_time(self, scene_id: int) -> float:
        """The latest not-before time of the scene's jobs not yet handed out (0 when none waits)."""
        row = self._counter.execute(
            f"SELECT max(json_extract(CAST(data AS TEXT), '$.not_before')) FROM {TABLE} WHERE status < ? "
            f"AND json_extract(CAST(data AS TEXT), '$.scene_id') = ?", (UNACK, int(scene_id))).fetchone()
        return float(row[0] or 0)

    def prune_acked(self) -> None:
        self._queue.clear_acked_data(max_delete=10_000, keep_latest=0)

    def close(self) -> None:
        self._counter.close()
        close = getattr(self._queue, "close", None)
        if close is not None:
            close()


def queued_scene_rows(conn: sqlite3.Connection) -> list[tuple[int, dict[str, Any], int]]:
    """(pqid, job, status) of every job not yet acked, read with plain SQL (for status reports and the
    drain's in-memory mirror; never opens persist-queue)."""
    try:
        rows = conn.execute(f"SELECT _id, data, status FROM {TABLE} WHERE status < ? ORDER BY _id",
                            (ACKED,)).fetchall()
    except sqlite3.OperationalError:
        return []  # the job queue table does not exist until the first drain
    result = []
    for pqid, data, status in rows:
        try:
            job = json.loads(data if isinstance(data, str) else bytes(data).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(job, dict) and "scene_id" in job:
            result.append((int(pqid), job, int(status)))
    return result
