"""Whether an idle drain stays for scenes whose file is not in Plex yet, or gives Stash's queue back.

Stash runs one job at a time, so a waiting drain would hold up scans and other plugins' tasks. It
stays only while Stash's job queue holds nothing else (asked every few seconds through GraphQL
`jobQueue`); the moment another job is queued it re-queues itself behind it and exits. Waiting costs
no Plex request: the worker looks again only when a scene's retry is due (worker/late_arrivals.py).
A press of "Process queue" while a drain waits asks it, through the queue database, to look at once.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Any

from queue.database import get_state, set_state, transaction
from stash import log
from stash.graphql import PROCESS_QUEUE_TASK, StashClient, StashError

QUEUE_CHECK = 2.0          # seconds between asks of Stash's job queue while waiting
LOOK_REQUEST_KEY = "late_arrivals_look_requested"
OWN_TASK_DESCRIPTION = f"Running plugin task: {PROCESS_QUEUE_TASK}"  # Stash's text for runPluginTask jobs

WAIT, YIELD, YIELD_TO_OWN = "wait", "yield", "yield-to-own"


def request_look(conn: sqlite3.Connection) -> None:
    """A user pressed Process queue while another run waits: ask that run to look again now."""
    with transaction(conn):
        set_state(conn, LOOK_REQUEST_KEY, repr(time.time()))


def other_jobs(client: StashClient) -> list[dict[str, Any]]:
    """Jobs queued in Stash behind the running one (ours)."""
    return [j for j in client.job_queue() if j.get("status") == "READY"]


class LateWait:
    def __init__(self, conn: sqlite3.Connection, client: StashClient) -> None:
        self.conn = conn
        self.client = client
        self.checked_at = 0.0
        self.look_seen = get_state(conn, LOOK_REQUEST_KEY)
        self.reported: tuple[int, int] | None = None
        self.queued: list[dict[str, Any]] = []

    def decide(self, worker: Any) -> str | None:
        """None: nothing waits for Plex; WAIT: stay; YIELD / YIELD_TO_OWN: another job is queued in
        Stash (YIELD_TO_OWN: it is a Process queue run already, so no re-queue is needed)."""
        waiting = worker.late_arrivals_waiting()
        if not waiting:
            self.reported = None
            return None
        now = time.monotonic()
        if now - self.checked_at >= QUEUE_CHECK:
            self.checked_at = now
            try:
                self.queued = other_jobs(self.client)
            except StashError as exc:
                log.warning(f"cannot read Stash's job queue ({exc}); not waiting for Plex")
                return YIELD
            if self.queued:
                own = any(j.get("description") == OWN_TASK_DESCRIPTION for j in self.queued)
                return YIELD_TO_OWN if own else YIELD
            self._take_look_request(worker)
        self._report(waiting, worker.next_retry_at())
        return WAIT

    def _take_look_request(self, worker: Any) -> None:
        requested = get_state(self.conn, LOOK_REQUEST_KEY)
        if requested != self.look_seen:
            self.look_seen = requested
            worker.look_again_now()

    def _report(self, waiting: int, next_retry: float | None) -> None:
        """One line each time the wait changes (a look was made, a scene joined or left), not per tick."""
        next_in = max(0, round((next_retry or time.time()) - time.time()))
        key = (waiting, round(next_retry or 0))
        if key == self.reported:
            return
        self.reported = key
        log.info(f"waiting for {waiting} scene{'s' if waiting != 1 else ''} to appear in Plex, next look in "
                 f"{next_in} s (Stash's job queue is free; any other job queued goes first)")
