"""Which queued jobs are due: taken from the job queue in order, the ones whose retry time has not come
held back in a heap (earliest first) until it comes.

A held job stays taken from the queue (unacked), so it is not handed out twice; the drain gives held
jobs back when its worker ends (release). The drain can make a held job due early: its scene changed
again, Plex's path index was rebuilt, or the user pressed Process queue (worker/drain.py,
worker/drain_wait.py).
"""
from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from worker import late_arrivals
from worker.jobs import JobQueue, QueuedJob


@dataclass(order=True)
class _Deferred:
    not_before: float
    job: QueuedJob = field(compare=False)


class DueJobs:
    """The worker's due-job picking and the jobs it holds until their retry time. `lock` guards the
    held jobs (the worker passes the lock that also guards its counts); every method is thread-safe."""

    def __init__(self, queue: JobQueue, lock: threading.Lock | None = None, *, manual: bool = False,
                 started_at: float | None = None) -> None:
        self.queue = queue
        self.manual = manual  # a user's own press of Process queue (see is_due)
        self.started_at = time.time() if started_at is None else started_at
        self._lock = lock if lock is not None else threading.Lock()
        self._deferred: list[_Deferred] = []

    def is_due(self, job: QueuedJob, now: float) -> bool:
        not_before = float(job.data.get("not_before") or 0)
        if not_before <= now:
            return True
        # A user's own press of "Process queue" makes every job queued before it due at once.
        return self.manual and float(job.data.get("requeued_at") or 0) < self.started_at

    def take(self) -> QueuedJob | None:
        """The next due job: a held one whose time has come, else the queue's next due one (the queue's
        jobs not due yet are held on the way)."""
        now = time.time()
        with self._lock:
            if self._deferred and self._deferred[0].not_before <= now:
                return heapq.heappop(self._deferred).job
        while True:
            job = self.queue.get_nowait()
            if job is None:
                return None
            if self.is_due(job, now):
                return job
            with self._lock:
                heapq.heappush(self._deferred, _Deferred(float(job.data.get("not_before") or 0), job))

    def take_batch(self, size: int, stopping: Callable[[], bool]) -> list[QueuedJob]:
        """Up to `size` due jobs, in queue order (taken from the queue: unacked until each is done)."""
        jobs: list[QueuedJob] = []
        while len(jobs) < size and not stopping():
            job = self.take()
            if job is None:
                break
            jobs.append(job)
        return jobs

    def count(self) -> int:
        """Jobs held until their retry time."""
        with self._lock:
            return len(self._deferred)

    def next_retry_at(self) -> float | None:
        with self._lock:
            return self._deferred[0].not_before if self._deferred else None

    def release(self) -> int:
        """Give jobs still waiting for their retry time back to the queue (called after the thread ends)."""
        with self._lock:
            deferred, self._deferred = self._deferred, []
        for item in deferred:
            self.queue.nack(item.job)
        return len(deferred)

    def make_scene_due(self, scene_id: int) -> bool:
        """A newer Stash state arrived for a scene waiting for its retry time: try it now.
        False when the scene's job is not held here."""
        with self._lock:
            for item in self._deferred:
                if item.job.scene_id == scene_id:
                    item.not_before = 0.0
                    heapq.heapify(self._deferred)
                    return True
        return False

    def late_arrivals_waiting(self) -> int:
        """Jobs held here because their file is not in Plex yet."""
        with self._lock:
            return sum(1 for item in self._deferred if item.job.data.get("kind") == late_arrivals.KIND)

    def make_no_match_jobs_due(self) -> None:
        """The path index was rebuilt: jobs waiting because their file was not in Plex may match now."""
        with self._lock:
            for item in self._deferred:
                if item.job.data.get("kind") in ("no-match", late_arrivals.KIND):
                    item.not_before = 0.0
            heapq.heapify(self._deferred)
