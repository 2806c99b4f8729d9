"""What happens to a job that failed: a retry on its kind's backoff, a dead letter after its last
attempt, or the end of the whole drain (bad token, refused certificate, Plex down, Stash failing).

Failures follow DESIGN.md's "Errors" table. An outage is never the job's fault: it is retried without
limit, and the drain ends instead of sending scene after scene to a dead server.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from plex.client import ErrorKind, classify_error, safe_error_text
from queue import dead_letters
from queue.database import transaction
from stash import log
from validation.config import Settings
from worker import retry
from worker.jobs import JobQueue, QueuedJob
from worker.outcomes import Outcome, StopDrain
from worker.shared_plex import SharedPlex

STASH_FAILURE_LIMIT = 3  # consecutive failed scene reads that end a drain


class FailurePolicy:
    """One per worker, called from every lane. `conn` gives the calling thread's queue-database
    connection; `lock` guards the count of failed Stash reads; `end_drain` ends the drain once the
    failed job is re-queued."""

    def __init__(self, queue: JobQueue, settings: Settings, plex: SharedPlex, max_retries: int, *,
                 conn: Callable[[], Any], lock: threading.Lock, end_drain: Callable[[StopDrain], None]) -> None:
        self.queue = queue
        self.settings = settings
        self.max_retries = max_retries
        self._plex = plex
        self._conn = conn
        self._lock = lock
        self._end_drain = end_drain
        self._stash_failures = 0

    def retry(self, job: QueuedJob, kind: str, error: str, backoff: retry.Backoff,
              dead_after: int | None) -> Outcome:
        """Re-queue the job for its next attempt after the backoff, or dead-letter it after `dead_after`
        attempts (None: never)."""
        attempt = int(job.data.get("attempt") or 0) + 1
        if dead_after is not None and attempt > dead_after:
            conn = self._conn()
            with transaction(conn):
                dead_letters.add(conn, job.scene_id, error, attempt - 1, job.data)
            self.queue.ack(job)
            log.error(f"scene {job.scene_id}: giving up after {attempt - 1} attempts: {error}; "
                      f"use the 'Retry dead letters' task once fixed")
            return Outcome.DEAD
        delay = backoff.delay(min(attempt, 12))
        data = dict(job.data, attempt=attempt, not_before=time.time() + delay, requeued_at=time.time(),
                    kind=kind, last_error=error[:500])
        self.queue.requeue(job, data)
        log.warning(f"scene {job.scene_id}: {error}; retry {attempt} in {delay:.0f} s")
        return Outcome.RETRYING

    def no_match(self, job: QueuedJob, error: str) -> Outcome:
        """No Plex item (or no longer the one) holds the scene's file: the no-match retries."""
        return self.retry(job, "no-match", error, retry.NO_MATCH, dead_after=self.max_retries)

    def internal_error(self, job: QueuedJob, exc: Exception) -> Outcome:
        """A bug or odd data: retried like a no-match, so it never blocks every later job."""
        log.error(f"scene {job.scene_id}: internal error {type(exc).__name__}: {log.redact(str(exc))[:300]}")
        return self.retry(job, "internal", f"internal error {type(exc).__name__}", retry.NO_MATCH,
                          dead_after=self.max_retries)

    def stash_failed(self, job: QueuedJob, exc: Exception) -> Outcome:
        """Reading the scene (or its cover) from Stash failed: retried without limit; after
        STASH_FAILURE_LIMIT failures in a row the drain ends."""
        error = f"Stash: {log.redact(str(exc))[:300]}"
        outcome = self.retry(job, "stash", error, retry.STASH, dead_after=None)
        with self._lock:
            self._stash_failures += 1
        if self._stash_failures >= STASH_FAILURE_LIMIT:
            # Stash itself is failing: stop reading scene after scene; the next run retries them.
            self._end_drain(StopDrain("stash-down", f"Stash failed {self._stash_failures} reads in a row "
                                                    f"({error}); queued scenes are kept"))
        return outcome

    def stash_answered(self) -> None:
        """A scene read succeeded: the failures in a row start again from zero."""
        self._stash_failures = 0

    def plex_failed(self, job: QueuedJob, exc: Exception) -> Outcome:
        """Classify an error raised while matching or writing the scene; raises StopDrain when the whole
        drain must end, and `exc` itself when it is not a Plex answer (the caller's internal error)."""
        kind = classify_error(exc)
        text = safe_error_text(exc, self.settings.plex_token)
        if kind is ErrorKind.AUTH:
            raise StopDrain("auth", "Plex rejected the token (401 Unauthorized): check the Plex token in "
                                    "Stash Settings -> Plugins -> PlexSync; queued scenes are kept")
        if kind is ErrorKind.TLS:
            raise StopDrain("tls", f"Plex's HTTPS certificate was refused ({text}): use the address the "
                                   f"certificate names (Plex Web: Settings -> Network -> custom server access "
                                   f"URL, or the *.plex.direct address) or http:// in plex_url; queued scenes "
                                   f"are kept")
        if kind is ErrorKind.OUTAGE:
            breaker = self._plex.breaker
            assert breaker is not None
            with self._plex.lock:
                opened = breaker.record_failure(text)
            outcome = self.retry(job, "outage", f"Plex unreachable: {text}", retry.OUTAGE, dead_after=None)
            if opened or breaker.is_open:
                # The job is already re-queued: end the drain after it, without touching it again.
                self._end_drain(StopDrain("plex-down", f"Plex is not answering: circuit breaker "
                                                       f"{breaker.describe()}; queued scenes are kept"))
            return outcome
        if kind is ErrorKind.NOT_FOUND:
            # The item vanished since the index was built: rebuild and treat like "not in Plex yet".
            if self._plex.session is not None:
                with self._plex.lock:
                    self._plex.session.index.look_again_on_miss()
            return self.no_match(job, f"Plex item not found: {text}")
        if kind is None:
            raise exc  # not a Plex answer: the worker retries it as an internal error
        return self.retry(job, "plex-error", f"Plex error: {text}", retry.NO_MATCH, dead_after=self.max_retries)
