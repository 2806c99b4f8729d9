"""Catch-up for changes that fire no hook (Auto Tag; see DESIGN.md): Sync recent's detection, run by the
drain itself, so nobody has to press anything.

- At the start of a drain, when the last detection is older than `catch_up_minutes` (0 = 60, negative =
  never). The first drain after install only starts the clock.
- After Stash's own jobs: when a drain ends while Stash's job queue holds other jobs (Auto Tag, Identify,
  Clean, a scan), one "catch-up" Process queue run is queued behind them, once: a catch-up run still
  waiting in the queue is enough. That run detects first, then drains as usual.
"""
from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from queue import drain_request
from queue.database import get_state, set_state, transaction
from stash import log
from stash.graphql import PROCESS_QUEUE_TASK, StashClient, StashError
from worker.drain_wait import OWN_TASK_DESCRIPTION

TRIGGER = "catch-up"
DEFAULT_MINUTES = 60
LAST_KEY = "catch_up_last_detection"
JOB_KEY = "catch_up_job"
CLOCK_ENV = "PLEXSYNC_CLOCK_OFFSET"  # seconds added to this module's clock (tests: "an hour later")


def now() -> float:
    try:
        return time.time() + float(os.environ.get(CLOCK_ENV, "") or 0)
    except ValueError:
        return time.time()


def interval_seconds(settings: Any) -> float | None:
    """None when catch-up is off (a negative setting); 0 or unset means the default."""
    minutes = float(getattr(settings, "catch_up_minutes", 0) or 0)
    if minutes < 0:
        return None
    return (minutes or DEFAULT_MINUTES) * 60.0


def due(conn: sqlite3.Connection, settings: Any, forced: bool) -> bool:
    """Whether this drain should run the detection; the first time only records the moment."""
    if forced:
        return True
    interval = interval_seconds(settings)
    if interval is None:
        return False
    last = get_state(conn, LAST_KEY)
    if last is None:
        remember(conn)
        return False
    return now() - float(last) >= interval


def remember(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        set_state(conn, LAST_KEY, repr(now()))


def detect(runtime: Any, settings: Any, client: StashClient, invocation: Any) -> None:
    """Sync recent's detection: scenes changed in Stash since its watermark join the pending set (the
    running drain holds the lease, so no other run is asked for)."""
    from worker.reconcile import sync_recent
    remember(runtime.conn)
    try:
        sync_recent(runtime, settings, client, invocation)
    except Exception as exc:  # noqa: BLE001 - a failed look must not stop the drain; the next one retries
        log.warning(f"catch-up: could not ask Stash for recently changed scenes ({log.redact(str(exc))[:300]})")


def run_if_due(runtime: Any, settings: Any, client: StashClient, invocation: Any, trigger: str | None) -> None:
    if due(runtime.conn, settings, forced=trigger == TRIGGER):
        detect(runtime, settings, client, invocation)


def queue_behind_stash_jobs(conn: sqlite3.Connection, client: StashClient, settings: Any) -> bool:
    """Queue one catch-up run behind the jobs now waiting in Stash's queue; True when one is queued
    (now or earlier). Other Process queue runs do not count: they do not detect."""
    if interval_seconds(settings) is None:
        return False
    try:
        waiting = [j for j in client.job_queue() if j.get("status") == "READY"]
        if not any(j.get("description") != OWN_TASK_DESCRIPTION for j in waiting):
            return False
        queued = get_state(conn, JOB_KEY)
        if queued and any(str(j.get("id")) == queued for j in waiting):
            return True  # once: the catch-up already queued runs after all of them
        job_id = client.run_plugin_task(PROCESS_QUEUE_TASK, {"mode": "process", "trigger": TRIGGER})
    except StashError as exc:
        log.warning(f"could not queue a catch-up run behind Stash's jobs ({exc}); the next drain after "
                    f"{(interval_seconds(settings) or 0) / 60:.0f} minutes catches up")
        return False
    with transaction(conn):
        set_state(conn, JOB_KEY, str(job_id))
    if drain_request.claim(conn, lambda _job: False, recent_seconds=0):
        drain_request.record_job(conn, str(job_id))  # hooks during those jobs see a drain is coming
    log.info(f"queued one catch-up run (Stash job {job_id}) behind Stash's other jobs: changes they make "
             f"without a hook (Auto Tag) reach Plex after them")
    return True
