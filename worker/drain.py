"""The "Process queue" task: hold the drain lease, feed the job queue, supervise the SyncWorker.

Stash runs one job at a time, so a drain works through one time slice, then queues itself again if
work remains and exits, letting scans and other tasks interleave. It exits when nothing is left, after
a short linger for updates still arriving from a bulk edit. Stop is SIGKILL: every state change is one
SQLite transaction and the lease simply expires, so the next drain resumes the in-flight job.
"""
from __future__ import annotations

import json
import time
from typing import Any

from hooks.handlers import is_scene_pending, mark_scene_pending
from queue import drain_request, lease, pending
from queue.database import set_state, transaction
from stash import log
from stash.graphql import PROCESS_QUEUE_TASK, StashClient, StashError
from stash.protocol import Invocation
from validation.config import Settings
from worker import catch_up, drain_wait
from worker.circuit import CircuitBreaker
from worker.jobs import JobQueue, new_job, queued_scene_rows
from worker.processor import Outcome, SyncWorker
from worker.stash_reader import connect_stash

LEASE_TTL = 30.0
HEARTBEAT = 5.0
TICK = 0.1
LINGER = 1.0            # wait this long with nothing to do before exiting: a bulk edit may still be firing
                        # (its hooks run in series, ~25 ms apart; a later one starts a new run anyway)
WAIT_FOR_RETRY = 20.0   # a retry due this soon is waited for; later ones (a missing Plex item's first
                        # retry is 30 s or more away) are left for the next run
FEED_BATCH = 500


class Drain:
    def __init__(self, runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> None:
        self.runtime = runtime
        self.conn = runtime.conn
        self.settings = settings
        self.client = client
        self.invocation = invocation
        self.owner = lease.new_owner()
        self.trigger = trigger = invocation.args.get("trigger")
        # A hook's or our own re-queue's request is automatic; anything else is the user pressing the button.
        self.manual = trigger not in ("hook", "slice", catch_up.TRIGGER)
        self.started = time.monotonic()
        self.jobs: JobQueue | None = None
        self.late_wait = drain_wait.LateWait(self.conn, client)
        self.worker: SyncWorker | None = None

    # --- lifecycle ---
    def run(self) -> str:
        if not self.settings.enabled:
            log.info("Pause sync is on in the PlexSync settings; Process queue did nothing")
            return "disabled"
        missing = self.settings.missing_plex_message()
        if missing:
            log.error(missing)
            return missing
        if not lease.acquire(self.conn, self.owner, LEASE_TTL):
            if self.manual:
                drain_wait.request_look(self.conn)  # a run waiting for Plex looks again at once
            log.info("another 'Process queue' run is already working; this one exits")
            return "already running"
        try:
            return self._run_with_lease()
        finally:
            self._shutdown()

    def _run_with_lease(self) -> str:
        drain_request.forget(self.conn)  # hooks now see our live lease instead
        try:
            stash = connect_stash(self.invocation, self.settings.connect_timeout, self.settings.read_timeout,
                                  self.settings.verify_stash_tls)
        except Exception as exc:  # noqa: BLE001 - stashapi raises bare Exception
            log.error(f"cannot read scenes from Stash ({log.redact(str(exc))[:300]}); queued scenes are kept")
            return "Stash unreachable"
        catch_up.run_if_due(self.runtime, self.settings, self.client, self.invocation, self.trigger)
        breaker = CircuitBreaker.load(self.conn)
        if breaker.tripped:
            log.info(f"Plex circuit breaker {breaker.describe()}: probing Plex with the first job")
        self.jobs = JobQueue(self.runtime.data_dir)  # resumes a killed drain's in-flight job
        for _pqid, job, _status in queued_scene_rows(self.conn):
            mark_scene_pending(int(job["scene_id"]))
        self.feed()
        self.worker = self._start_worker(stash)
        return self._supervise()

    def _supervise(self) -> str:
        assert self.worker is not None and self.jobs is not None
        last_beat = time.monotonic()
        idle_since: float | None = None
        slice_end = self.started + self.settings.drain_slice_seconds
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT:
                if not lease.renew(self.conn, self.owner, LEASE_TTL):
                    log.error("lost the drain lease to another run; stopping this one")
                    return self._finish("lease lost")
                last_beat = now
            self.feed()
            self._progress()
            if not self.worker.is_alive():
                return self._finish(self._stop_reason())
            remaining = self.jobs.waiting_count() + pending.count(self.conn)
            if not remaining and self.worker.idle.is_set():
                waiting = self.late_wait.decide(self.worker)
                if waiting == drain_wait.WAIT:
                    idle_since = None
                    continue
                if waiting is not None:  # another job is queued in Stash: it goes first
                    self._stop_worker()
                    if waiting == drain_wait.YIELD and not catch_up.queue_behind_stash_jobs(
                            self.conn, self.client, self.settings):
                        self._requeue_self()
                    return self._finish("another job queued in Stash; re-queued behind it")
            if now >= slice_end and (remaining or self.worker.deferred_count() or self.worker.held_count()):
                self._stop_worker()
                self._requeue_self()
                return self._finish("time slice used; re-queued")
            if remaining or not self.worker.idle.is_set():
                idle_since = None
                continue
            if idle_since is None:
                # Decided once, when the worker falls idle: a retry due soon is waited for (the worker
                # sleeps, no busy loop). Re-deciding while lingering would wait for a later retry just
                # because the linger brought it under the limit.
                next_retry = self.worker.next_retry_at()
                if next_retry is not None and next_retry - time.time() <= min(WAIT_FOR_RETRY, slice_end - now):
                    continue
                idle_since = now
            if now - idle_since < LINGER:
                continue
            self._stop_worker()
            if lease.release_if_nothing_pending(self.conn, self.owner):
                catch_up.queue_behind_stash_jobs(self.conn, self.client, self.settings)
                return self._finish("done")
            # A scene arrived at the last moment: keep going with a fresh worker.
            self.worker = self._start_worker(self.worker.stash, previous=self.worker)
            idle_since = None

    def _start_worker(self, stash: Any, previous: SyncWorker | None = None) -> SyncWorker:
        """The SyncWorker thread (the class PlexSync.initialize wired), continuing a previous one's counts."""
        worker_class = self.runtime.worker or SyncWorker
        worker = worker_class(self.jobs, self.runtime.dead_letter_queue, self.settings,
                              data_dir=self.runtime.data_dir, max_retries=self.settings.max_retries,
                              stash=stash, manual=self.manual)
        if previous is not None:
            worker.counts, worker.started_at = previous.counts, previous.started_at
        worker.start()
        return worker

    def _stop_worker(self) -> None:
        if self.worker is None:
            return
        self.worker.stop()
        # The worker finishes the request it is in (every HTTP call has a timeout), then stops. Keep the
        # lease alive meanwhile, or hooks would think nobody drains and ask Stash for another run.
        deadline = time.monotonic() + self.settings.connect_timeout + self.settings.read_timeout * 4 + 10
        while self.worker.is_alive() and time.monotonic() < deadline:
            self.worker.join(HEARTBEAT)
            if self.worker.is_alive():
                lease.renew(self.conn, self.owner, LEASE_TTL)
        if not self.worker.is_alive():
            self.worker.release_deferred()

    def _stop_reason(self) -> str:
        assert self.worker is not None
        if self.worker.stopped_for is not None:
            log.error(str(self.worker.stopped_for))
            return f"stopped: {self.worker.stopped_for.reason}"
        if self.worker.crashed is not None:
            exc = self.worker.crashed
            log.error(f"Process queue stopped by an internal error: {type(exc).__name__}: "
                      f"{log.redact(str(exc))[:300]}; queued scenes are kept")
            return "internal error"
        return "worker ended"

    # --- feeding pending scenes into the job queue ---
    def feed(self) -> None:
        assert self.jobs is not None
        now = time.time()
        for row in pending.oldest(self.conn, FEED_BATCH):
            if self.worker is not None and self.worker.is_busy(row.scene_id):
                continue  # its newer state is synced after the running job ends
            if not is_scene_pending(row.scene_id) or row.force:
                # A forced re-send (Force sync all, Retry dead letters) gets its own job even when the
                # scene is already queued: the queued job may skip it as unchanged.
                self.jobs.put(new_job(row.scene_id, row.reason, force=row.force))
                mark_scene_pending(row.scene_id)
            elif not (self.worker is not None and self.worker.make_scene_due(row.scene_id)) \
                    and self.jobs.retry_time(row.scene_id) > now:
                # Its queued job waits for a retry time, but the scene changed (a pin, a new file):
                # a fresh attempt now; the waiting one will find nothing left to do.
                self.jobs.put(new_job(row.scene_id, row.reason))
            # Otherwise queued and due: the job reads the scene's current state when it runs.
            pending.take(self.conn, row.scene_id, row.recorded_at)

    def _progress(self) -> None:
        assert self.worker is not None and self.jobs is not None
        done = self.worker.processed
        left = self.jobs.waiting_count() + pending.count(self.conn) + (0 if self.worker.idle.is_set() else 1)
        total = done + left
        log.progress(done / total if total else 1.0)

    def _requeue_self(self) -> None:
        try:
            job_id = self.client.run_plugin_task(PROCESS_QUEUE_TASK, {"mode": "process", "trigger": "slice"})
        except StashError as exc:
            log.warning(f"could not queue the next 'Process queue' run ({exc}); the next scene save or a "
                        f"press of Process queue continues")
            return
        if drain_request.claim(self.conn, lambda _job: False, recent_seconds=0):
            drain_request.record_job(self.conn, job_id)

    def _finish(self, reason: str) -> str:
        assert self.worker is not None
        self._stop_worker()
        counts = self.worker.counts
        waiting = [job for _pqid, job, status in queued_scene_rows(self.conn)]
        retry_times = [float(j.get("not_before") or 0) for j in waiting if float(j.get("not_before") or 0) > time.time()]
        elapsed = time.monotonic() - self.started
        summary = (f"Process queue: {counts[Outcome.SYNCED]} synced, {counts[Outcome.UNCHANGED]} unchanged, "
                   f"{counts[Outcome.SKIPPED]} skipped, {counts[Outcome.LOW]} low confidence, "
                   f"{len(waiting)} waiting ({counts[Outcome.RETRYING]} retries), "
                   f"{counts[Outcome.DEAD]} dead-lettered, in {elapsed:.1f} s ({reason})")
        if retry_times:
            when = time.strftime("%H:%M:%S", time.localtime(min(retry_times)))
            summary += f"; next retry due at {when} (the next scene save or a press of Process queue runs it)"
        log.progress(1.0)
        log.info(summary)
        with transaction(self.conn):
            set_state(self.conn, "last_drain", json.dumps({"finished_at": time.time(), "summary": summary}))
        return summary

    def _shutdown(self) -> None:
        if self.worker is not None and self.worker.is_alive():
            self._stop_worker()
        if self.jobs is not None:
            try:
                self.jobs.prune_acked()
            except Exception as exc:  # noqa: BLE001 - housekeeping only
                log.debug(f"could not prune acked jobs: {exc}")
            self.jobs.close()
        lease.release(self.conn, self.owner)


def run_drain(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    return Drain(runtime, settings, client, invocation).run()
