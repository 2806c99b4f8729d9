"""Stash's job manager in miniature: one worker thread runs queued jobs one at a time (pkg/job/manager.go)."""

from __future__ import annotations

import collections
import datetime
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

READY, RUNNING, FINISHED, STOPPING, CANCELLED, FAILED = (
    "READY", "RUNNING", "FINISHED", "STOPPING", "CANCELLED", "FAILED")
DONE_STATES = (FINISHED, CANCELLED, FAILED)
GRAVEYARD_SIZE = 100   # finished jobs stay findable (Stash keeps them around for a while, then drops them)


def rfc3339_now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


class JobContext:
    """What a running job function sees: progress reporting and the stop request."""

    def __init__(self, job: "Job", manager: "JobManager") -> None:
        self._job = job
        self._manager = manager
        self.stopped = threading.Event()
        self.on_stop: Callable[[], None] | None = None   # e.g. SIGKILL the plugin process

    def set_progress(self, value: float) -> None:
        self._manager._set_progress(self._job, value)


JobFunc = Callable[[JobContext], None]


@dataclass
class Job:
    id: str
    description: str
    func: JobFunc
    status: str = READY
    progress: float | None = None
    add_time: str = field(default_factory=rfc3339_now)
    start_time: str | None = None
    end_time: str | None = None
    error: str | None = None
    context: JobContext | None = None

    def as_dict(self) -> dict:
        """Shaped like Stash's GraphQL `Job` type."""
        return {"id": self.id, "status": self.status, "subTasks": [], "description": self.description,
                "progress": self.progress, "startTime": self.start_time, "endTime": self.end_time,
                "addTime": self.add_time, "error": self.error}


class JobManager:
    def __init__(self, on_error: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._queue: collections.deque[Job] = collections.deque()
        self._jobs: dict[str, Job] = {}
        self._done: collections.deque[str] = collections.deque()
        self._running: Job | None = None
        self._closed = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._work, name="sandbox-job-worker", daemon=True)
        self._thread.start()

    def add(self, description: str, func: JobFunc) -> str:
        with self._lock:
            job = Job(id=str(next(self._ids)), description=description, func=func)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._lock.notify_all()
            return job.id

    def find(self, job_id: str) -> dict | None:
        with self._lock:
            job = self._jobs.get(str(job_id))
            return job.as_dict() if job else None

    def queue(self) -> list[dict]:
        """Jobs not finished yet, in queue order (the running one first)."""
        with self._lock:
            jobs = ([self._running] if self._running else []) + list(self._queue)
            return [j.as_dict() for j in jobs if j.status not in DONE_STATES]

    def stop(self, job_id: str) -> bool:
        """READY -> CANCELLED at once; RUNNING -> STOPPING, and the job's on_stop kills its process."""
        with self._lock:
            job = self._jobs.get(str(job_id))
            if job is None or job.status in DONE_STATES:
                return False
            if job.status == READY:
                self._queue.remove(job)
                job.status, job.end_time = CANCELLED, rfc3339_now()
                self._retire(job)
                return True
            job.status = STOPPING
            ctx = job.context
        if ctx is not None:
            ctx.stopped.set()
            if ctx.on_stop is not None:
                ctx.on_stop()
        return True

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._queue or self._running is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Cancel queued jobs, stop the running one (like JobManager CancelAll), end the worker."""
        with self._lock:
            self._closed = True
            queued = list(self._queue)
            running = self._running
            self._lock.notify_all()
        for job in queued:
            self.stop(job.id)
        if running is not None:
            self.stop(running.id)
        self._thread.join(timeout)

    # --- worker -------------------------------------------------------------------------------------
    def _set_progress(self, job: Job, value: float) -> None:
        with self._lock:
            job.progress = min(1.0, max(0.0, value))

    def _retire(self, job: Job) -> None:
        self._done.append(job.id)
        while len(self._done) > GRAVEYARD_SIZE:
            self._jobs.pop(self._done.popleft(), None)
        self._lock.notify_all()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if self._closed and not self._queue:
                    return
                job = self._queue.popleft()
                job.status, job.start_time = RUNNING, rfc3339_now()
                job.context = JobContext(job, self)
                self._running = job
            error: str | None = None
            try:
                job.func(job.context)
            except Exception as exc:        # a job function error marks the job FAILED, as in Stash
                error = str(exc) or exc.__class__.__name__
                if self._on_error:
                    self._on_error(f"Job {job.id} failed: {error}")
            with self._lock:
                if job.context.stopped.is_set():
                    job.status = CANCELLED
                elif error is not None:
                    job.status, job.error = FAILED, error
                else:
                    job.status = FINISHED
                job.end_time = rfc3339_now()
                self._running = None
                self._retire(job)
