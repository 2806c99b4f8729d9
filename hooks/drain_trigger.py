"""Make sure a "Process queue" run is coming, without queueing one per scene.

A live drain lease, a request made moments ago, or a remembered Stash job that is still waiting or
running are all enough. Otherwise ask Stash to run the task (with the session cookie, so Stash's
hook-loop guard keeps working). A failure to reach Stash loses nothing: the scene stays pending and
the next hook or a press of "Process queue" picks it up.
"""
from __future__ import annotations

import sqlite3

from queue import drain_request, lease
from stash import log
from stash.graphql import ACTIVE_JOB_STATES, PROCESS_QUEUE_TASK, StashClient, StashError


def ensure_drain(conn: sqlite3.Connection, client: StashClient, trigger: str = "hook") -> str:
    """Returns what happened: 'running', 'requested-recently', 'requested' or 'failed'."""
    if lease.live_holder(conn) is not None:
        return "running"

    def job_active(job_id: str) -> bool:
        try:
            job = client.find_job(job_id)
        except StashError as exc:
            log.debug(f"cannot check drain job {job_id}: {exc}")
            return False
        status = job.get("status") if job else None
        if status == "READY":
            drain_request.seen_waiting(conn, job_id)
        return status in ACTIVE_JOB_STATES

    if not drain_request.claim(conn, job_active):
        return "requested-recently"
    try:
        job_id = client.run_plugin_task(PROCESS_QUEUE_TASK, {"mode": "process", "trigger": trigger})
    except StashError as exc:
        drain_request.forget(conn)
        log.warning(f"could not ask Stash to run '{PROCESS_QUEUE_TASK}' ({exc}); the scene stays queued "
                    f"and will be synced by the next run")
        return "failed"
    if job_id:
        drain_request.record_job(conn, job_id)
    log.debug(f"requested '{PROCESS_QUEUE_TASK}' (Stash job {job_id or '?'})")
    return "requested"
