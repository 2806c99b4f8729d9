"""SyncWorker: the daemon thread that takes jobs off the queue and makes Plex match Stash.

One job = one scene: read its current state from Stash, skip it when nothing changed since the last
sync (no Plex request), match it to a Plex item, write the differing fields in one locked edit, upload
the cover when it changed, record the sync state. The drain's main thread supervises the worker (lease,
progress, time slice); see worker/drain.py.

This module keeps the thread, the batch loop and the wiring. The data flows through:
- worker/due_jobs.py: which queued jobs are due, and the ones held until their retry time;
- worker/read_ahead.py, worker/inflight.py: a batch read ahead, then run on a few lanes;
- worker/scene_sync.py: one job's read -> decide -> match -> plan -> write -> record;
- worker/failure_policy.py: what a failed job becomes (retry, dead letter, end of the drain);
- worker/shared_plex.py: the Plex session, breaker and collections the lanes share.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from hooks.handlers import unmark_scene_pending
from plex.client import safe_error_text
from plex.matcher import Confidence
from queue.database import connect
from stash import log
from validation.config import Settings
from worker.circuit import CircuitBreaker
from worker.due_jobs import DueJobs
from worker.failure_policy import FailurePolicy
from worker.inflight import Batch, InFlight, lanes_for
from worker.jobs import JobQueue, QueuedJob
from worker.outcomes import Outcome, StopDrain
from worker.plex_session import PlexSession
from worker.read_ahead import BATCH_SIZE, ReadAhead
from worker.scene_sync import SceneSync
from worker.shared_plex import SharedPlex
from worker.stash_reader import scene_fragment

__all__ = ["Outcome", "StopDrain", "SyncWorker"]  # Outcome and StopDrain live in worker/outcomes.py

PREFETCH_OPENS_PLEX = 8  # changed scenes in a batch worth opening Plex for before their jobs run


class SyncWorker(threading.Thread):
    def __init__(self, queue: JobQueue, dlq: Any, config: Settings, data_dir: str | None = None,
                 max_retries: int = 5, *, stash: Any = None, manual: bool = False,
                 plex_factory: Callable[[Settings, Any], PlexSession] = PlexSession.open) -> None:
        super().__init__(name="PlexSync-SyncWorker", daemon=True)
        if data_dir is None:
            raise ValueError("SyncWorker needs the data folder of the queue database")
        self.queue = queue
        self.dlq = dlq
        self.settings = config
        self.data_dir = data_dir
        self.max_retries = max_retries
        self.stash = stash
        self.manual = manual
        self._local = threading.local()      # one queue-database connection per thread (worker, lanes)
        self._conns: list[Any] = []
        self._lock = threading.Lock()        # counts, held and deferred jobs, failed Stash reads, connections
        self._due = DueJobs(queue, self._lock, manual=manual, started_at=time.time())
        self._plex = SharedPlex(config, data_dir, stash, manual=manual, factory=plex_factory,
                                keep_conn=self._keep_conn)
        self._failures = FailurePolicy(queue, config, self._plex, max_retries, conn=self._thread_conn,
                                       lock=self._lock, end_drain=self._end_drain_after_job)
        self._scenes = SceneSync(queue, config, stash, data_dir, self._plex, self._failures,
                                 conn=self._thread_conn, index_rebuilt=self.make_no_match_jobs_due)
        self._ahead = ReadAhead(scene_fragment(config))  # the running batch's reads (the fields the
        self._next_ahead = ReadAhead(scene_fragment(config))  # collection sources need, too); the next's
        self._inflight = InFlight(lanes_for(getattr(config, "parallel_edits", 0)))
        self._stop_event = threading.Event()
        self.counts: dict[Outcome, int] = {o: 0 for o in Outcome}
        self.current_scene_id: int | None = None
        self.idle = threading.Event()
        self.stopped_for: StopDrain | None = None
        # Set when a job was already re-queued but the drain must end (Plex or Stash down).
        self._stop_after: StopDrain | None = None
        self.crashed: BaseException | None = None
        self._flushed_while_idle = False
        self._held = 0  # see held_count

    @property
    def started_at(self) -> float:
        """When this drain's run began (a manual run makes every job queued before it due at once)."""
        return self._due.started_at

    @started_at.setter
    def started_at(self, value: float) -> None:
        self._due.started_at = value  # the drain carries it over to the next worker of the same run

    # ----- thread control (called from the drain's main thread) -----
    def stop(self) -> None:
        self._stop_event.set()

    def _thread_conn(self) -> Any:
        """This thread's connection to the queue database (SQLite transactions cannot share one)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.data_dir)
            self._local.conn = conn
            self._keep_conn(conn)
        return conn

    def _keep_conn(self, conn: Any) -> None:
        """Closed with the others when the thread ends."""
        with self._lock:
            self._conns.append(conn)

    def is_busy(self, scene_id: int) -> bool:
        """A job of this scene is being worked on (its Stash state may already be read)."""
        return scene_id == self.current_scene_id or self._inflight.busy(scene_id)

    @property
    def processed(self) -> int:
        return sum(self.counts.values())

    def held_count(self) -> int:
        """Jobs taken from the queue for the running or the next batch and not finished yet: the drain
        counts them as work left when its time slice ends (they are no longer "waiting" in the queue)."""
        with self._lock:
            return self._held

    def deferred_count(self) -> int:
        return self._due.count()

    def next_retry_at(self) -> float | None:
        return self._due.next_retry_at()

    def run(self) -> None:
        """Batch after batch: while one runs on the lanes, the next is taken from the queue and read
        ahead (its Stash read and Plex item fetch overlap the running edits instead of waiting for
        them); it starts when the running one has finished."""
        self._plex.breaker = CircuitBreaker.load(connect(self.data_dir))  # its own connection: lanes share it
        running: Batch | None = None
        taken: list[QueuedJob] = []  # taken from the queue and read ahead, not started yet
        try:
            while running is not None or not self._stop_event.is_set():
                taken = [] if self._should_stop() else self._due.take_batch(BATCH_SIZE, self._stop_event.is_set)
                if taken:
                    with self._lock:
                        self._held += len(taken)
                    self._inflight.claim(taken)
                    self._read_ahead(taken, busy=running.scene_ids() if running is not None else set())
                if running is not None:
                    batch, running = running, None
                    self._inflight.finish(batch)
                    # persist-queue finds the next job by scanning from the first row: acked rows left
                    # in front made every take cost more (quadratic over a long drain).
                    self.queue.prune_acked()
                if self._stop_after is not None:
                    raise self._stop_after
                if not taken:
                    if self._stop_event.is_set():
                        break
                    self._flush_collections()
                    self.idle.set()
                    self._stop_event.wait(0.1)
                    continue
                self.idle.clear()
                self._flushed_while_idle = False
                self._ahead, self._next_ahead = self._next_ahead, self._ahead
                running = self._inflight.start(taken, self._run_lane_job, self._give_back_job, self._should_stop)
                taken = []
        except StopDrain as exc:
            self.stopped_for = exc
        except BaseException as exc:  # noqa: BLE001 - reported by the drain as one line
            self.crashed = exc
        finally:
            self._give_back(running, taken)
            self._inflight.close()
            self._ahead.clear()
            self._next_ahead.clear()
            with self._lock:
                conns, self._conns = self._conns, []
            for conn in conns:
                conn.close()
            self._plex.breaker.conn.close()
            self.idle.set()

    def _give_back(self, running: Batch | None, taken: list[QueuedJob]) -> None:
        """On the way out: let the running batch end (its lanes give back what they did not start) and
        hand the jobs taken for the next batch back to the queue untouched."""
        if running is not None:
            try:
                self._inflight.finish(running)
            except BaseException as exc:  # noqa: BLE001 - already ending; keep the first reason
                self.crashed = self.crashed or exc
        for job in taken:
            self._give_back_job(job)
        self._inflight.release(taken)

    def _give_back_job(self, job: QueuedJob) -> None:
        """A job taken but not started goes back to the queue untouched (persist-queue nack)."""
        self.queue.nack(job)
        with self._lock:
            self._held -= 1

    def _should_stop(self) -> bool:
        return self._stop_event.is_set() or self._stop_after is not None

    def _end_drain_after_job(self, reason: StopDrain) -> None:
        """The failure policy re-queued the job, and the drain must end (Plex or Stash down)."""
        self._stop_after = reason

    def _run_lane_job(self, job: QueuedJob) -> None:
        try:
            self._run_one(job)
        except StopDrain as exc:
            with self._lock:
                self._stop_after = self._stop_after or exc  # the other lanes give their jobs back
        finally:
            with self._lock:
                self._held -= 1

    def _read_ahead(self, jobs: list[QueuedJob], busy: set[int]) -> None:
        """The next batch's scenes in one Stash query and, when the Plex session is open, the items of
        the scenes that changed in one Plex request (worker/read_ahead.py). Scenes of the running batch
        (`busy`) are left out: their jobs read for themselves once the running edit is done."""
        ahead = self._next_ahead
        ahead.clear()
        ahead.load_scenes(self.stash, [job.scene_id for job in jobs if job.scene_id not in busy])
        changed = self._scenes.changed_scenes(ahead, jobs)  # no request: the batch's copies and the sync state
        if not changed or (self._plex.session is None and len(changed) < PREFETCH_OPENS_PLEX):
            return  # an unchanged batch never opens Plex; a small one lets its first scene open it
        try:
            session = self._plex.open()
        except Exception as exc:  # noqa: BLE001 - each job opens it again and handles the error itself
            log.debug(f"opening Plex to read ahead failed ({log.redact(str(exc))[:200]})")
            return
        with self._plex.lock:
            ahead.prefetch(session, changed, lambda r: r.confidence is not Confidence.NONE)

    # ----- jobs held until their retry time (worker/due_jobs.py) -----
    def release_deferred(self) -> int:
        """Give jobs still waiting for their retry time back to the queue (called after the thread ends)."""
        return self._due.release()

    def make_scene_due(self, scene_id: int) -> bool:
        """A newer Stash state arrived for a scene waiting for its retry time: try it now.
        False when this worker does not hold the scene's job."""
        return self._due.make_scene_due(scene_id)

    def late_arrivals_waiting(self) -> int:
        """Jobs held here because their file is not in Plex yet."""
        return self._due.late_arrivals_waiting()

    def look_again_now(self) -> None:
        """A user pressed Process queue while this drain waits: scenes waiting for Plex look at once."""
        if self._plex.session is not None:
            self._plex.session.index.force_next_look = True
        self.make_no_match_jobs_due()

    def make_no_match_jobs_due(self) -> None:
        """The path index was rebuilt: jobs waiting because their file was not in Plex may match now."""
        self._due.make_no_match_jobs_due()

    # ----- one job -----
    def _run_one(self, job: QueuedJob) -> None:
        scene_id = job.scene_id
        self.current_scene_id = scene_id
        try:
            try:
                outcome = self._scenes.run(job, self._ahead)
            except StopDrain:
                self.queue.nack(job)  # not the job's fault: it stays first in line for the next drain
                raise
            except Exception as exc:  # noqa: BLE001 - a bug or odd data must not block every later job
                outcome = self._failures.internal_error(job, exc)
            with self._lock:
                self.counts[outcome] += 1
            if outcome is not Outcome.RETRYING:
                unmark_scene_pending(scene_id)
        finally:
            # Cleared last: the drain's feed must never see the scene as "queued, not running" while its
            # job is still being finished (it would drop a newer pending update).
            self.current_scene_id = None

    # ----- idle spells -----
    def _flush_collections(self) -> None:
        """Once per idle spell: bring touched collections' text, poster, order and emptiness in line."""
        if self._flushed_while_idle:
            return
        self._flushed_while_idle = True
        sync = self._plex.collection_sync()
        if not sync.has_work():
            return
        try:
            session = self._plex.open()
            with self._plex.lock:
                sync.flush(session.plex, self.settings.dry_run)
        except Exception as exc:  # noqa: BLE001 - the rows stay marked; the next idle spell or drain retries
            log.warning(f"collections: {safe_error_text(exc, self.settings.plex_token)}; "
                        f"kept for the next run")
