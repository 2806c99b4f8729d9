"""Queue management tasks: "Queue status", "Review low-confidence matches", "Retry dead letters",
"Clear pending queue" and "Purge dead letters older than 30 days".

None of them opens persist-queue (its open resets a running drain's in-flight rows): the job queue is
read with plain SQL (worker.jobs.queued_scene_rows), and cleared with plain SQL only while this task
holds the drain lease itself. Every message is one log line.
"""
from __future__ import annotations

import json
import time
from typing import Any

from hooks.drain_trigger import ensure_drain
from queue import dead_letters, lease, pending, reviews
from queue.database import get_state, transaction
from stash import log
from stash.graphql import StashClient
from stash.protocol import Invocation
from validation.config import Settings
from worker.circuit import CircuitBreaker
from worker.jobs import ACKED, TABLE, queued_scene_rows

PURGE_AGE_DAYS = 30
IN_FLIGHT = 2  # persistqueue AckStatus.unack: handed to a worker, not yet acked
CLEAR_LEASE_TTL = 30.0


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _ids(values: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" … (+{len(values) - limit} more)" if len(values) > limit else "")


def queue_status(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    conn = runtime.conn
    now = time.time()
    pending_count = pending.count(conn)
    rows = queued_scene_rows(conn)
    drain_owner = lease.live_holder(conn)
    # A job held back for its retry time is also 'unack' in persist-queue (the worker holds it), so the
    # retry time, not the status, tells waiting from in flight.
    waiting = [job for _pqid, job, _status in rows if float(job.get("not_before") or 0) > now]
    in_flight = [job for _pqid, job, status in rows
                 if status == IN_FLIGHT and float(job.get("not_before") or 0) <= now]
    queued = len(rows) - len(in_flight) - len(waiting)
    dead = dead_letters.count(conn)
    review_count = reviews.count(conn)

    log.info(f"Queue status: {pending_count} pending, {queued} queued, {len(in_flight)} in flight, "
             f"{len(waiting)} waiting for retry, {dead} dead letter(s), {review_count} low-confidence review(s)")
    log.info(f"Process queue: {'running now' if drain_owner else 'not running'}"
             + ("" if settings.enabled else " (Pause sync is on)"))
    if in_flight and not drain_owner:
        log.info(f"in flight: scene(s) {_ids([int(j['scene_id']) for j in in_flight])} "
                 f"(a stopped run's job; the next Process queue resumes it)")
    if waiting:
        waiting.sort(key=lambda j: float(j.get("not_before") or 0))
        first = waiting[0]
        log.info(f"waiting for retry: {len(waiting)} scene(s), next retry at "
                 f"{_clock(float(first['not_before']))} (scene {first['scene_id']}: "
                 f"{str(first.get('last_error') or 'no error recorded')[:300]})")
    if dead:
        letters = dead_letters.all_letters(conn)
        newest = letters[-1]
        log.info(f"dead letters: scene(s) {_ids([d.scene_id for d in letters])}; newest: scene {newest.scene_id} "
                 f"at {_clock(newest.failed_at)} after {newest.attempts} attempt(s): {newest.error[:300]} "
                 f"(use 'Retry dead letters' once fixed)")
    if review_count:
        log.info(f"{review_count} low-confidence match(es) await review: run 'Review low-confidence matches'")
    last = _last(conn, "last_drain")
    if last:
        log.info(f"last Process queue run finished at {_clock(float(last.get('finished_at') or 0))}: "
                 f"{last.get('summary', '')}")
    else:
        log.info("last Process queue run: none recorded yet")
    reconcile = _last(conn, "last_reconcile")
    if reconcile:
        log.info(f"last {reconcile.get('task', 'sync')} at {_clock(float(reconcile.get('finished_at') or 0))}: "
                 f"{reconcile.get('summary', '')}")
    log.info(f"Plex circuit breaker: {CircuitBreaker.load(conn).describe()}")
    return (f"{pending_count} pending, {queued} queued, {len(in_flight)} in flight, {len(waiting)} waiting, "
            f"{dead} dead, {review_count} review")


def _last(conn: Any, key: str) -> dict[str, Any] | None:
    raw = get_state(conn, key)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def review_low_confidence(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    lines = reviews.all_lines(runtime.conn)
    if not lines:
        log.info("Review: no low-confidence matches are waiting")
        return "no reviews"
    for _scene_id, line, _recorded_at in lines:
        log.warning(line)  # recorded already as one line (scene, path, candidates, URLs, how to pin)
    log.info(f"Review: {len(lines)} low-confidence match(es) listed above; pin the right Plex item by adding "
             f"its URL to the scene's URLs, or fix path_map, then save the scene")
    return f"{len(lines)} review(s)"


def retry_dead_letters(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    count = dead_letters.requeue_all(runtime.conn)
    if not count:
        log.info("Retry dead letters: there are none")
        return "no dead letters"
    drain = "not started"
    if settings.enabled and settings.plex_configured:
        drain = ensure_drain(runtime.conn, client, trigger="task")
    elif not settings.plex_configured:
        log.warning(settings.missing_plex_message())
    summary = f"Retry dead letters: {count} scene(s) queued again; drain {drain}"
    log.info(summary)
    return summary


def clear_pending(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    """Forget waiting scenes: the pending set, and the job queue too unless a drain is working on it."""
    conn = runtime.conn
    owner = lease.new_owner()
    if not lease.acquire(conn, owner, CLEAR_LEASE_TTL):
        cleared = pending.clear(conn)
        summary = (f"Clear pending queue: {cleared} pending scene(s) cleared; a Process queue run is working, "
                   f"so the jobs it already holds continue (stop that job first to clear them too)")
        log.info(summary)
        return summary
    try:
        # We hold the lease: no process has persist-queue open, so its rows may be deleted with SQL.
        jobs = len(queued_scene_rows(conn))
        with transaction(conn):
            cleared = conn.execute("DELETE FROM pending").rowcount
            if jobs:
                conn.execute(f"DELETE FROM {TABLE} WHERE status < ?", (ACKED,))
    finally:
        lease.release(conn, owner)
    summary = f"Clear pending queue: {cleared} pending and {jobs} queued scene(s) cleared (Stash data untouched)"
    log.info(summary)
    return summary


def purge_dead_letters(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    purged = dead_letters.purge_older_than(runtime.conn, PURGE_AGE_DAYS * 86400)
    left = dead_letters.count(runtime.conn)
    summary = f"Purge dead letters: {purged} older than {PURGE_AGE_DAYS} days deleted, {left} kept"
    log.info(summary)
    return summary
