"""SyncWorker: the daemon thread that takes jobs off the queue and makes Plex match Stash.

One job = one scene: read its current state from Stash, skip it when nothing changed since the last
sync (no Plex request), match it to a Plex item, write the differing fields in one locked edit, upload
the cover when it changed, record the sync state. Failures follow DESIGN.md's "Errors" table.
The drain's main thread supervises the worker (lease, progress, time slice); see worker/drain.py.
"""
from __future__ import annotations

import enum
import heapq
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from hooks.handlers import unmark_scene_pending
from plex.client import ErrorKind, classify_error, safe_error_text
from plex.matcher import Confidence
from plex.paths import normalise_path
from plex.review import format_review_line
from plex.artwork import image_state, poster_bytes
from plex.writer import apply_edit, describe_plan, fetch_item, plan_edit, read_field, upload_art, upload_poster
from queue import dead_letters, reviews
from queue.database import connect, transaction
from queue.operations import get_record, save_sync_timestamp
from stash import log
from validation.config import Settings
from validation.metadata import scene_state_hash
from worker import late_arrivals, retry, stash_link
from worker.circuit import CircuitBreaker
from worker.inflight import Batch, InFlight, lanes_for
from worker.jobs import JobQueue, QueuedJob
from worker.plex_session import PlexSession, PlexSetupError
from worker.collections import CollectionSync
from worker.read_ahead import BATCH_SIZE, ReadAhead
from worker.recreated import fetch_matched_item
from worker.scene_view import SceneView
from worker.stash_gql import stash_call
from worker.stash_reader import fetch_cover, scene_fragment


# Test-only crash points (tests/reliability/test_crash_matrix.py): with PLEXSYNC_FAULT_POINT=<point> and
# PLEXSYNC_FAULT_AT=N in the environment, the drain SIGKILLs itself the Nth time it reaches <point>
# (before_edit, after_edit, during_state_write, before_ack), as Stash's Stop would. Unset: a no-op.
_FAULT_POINT = os.environ.get("PLEXSYNC_FAULT_POINT", "")
_FAULT_AT = int(os.environ.get("PLEXSYNC_FAULT_AT", "1") or "1") if _FAULT_POINT else 0
_fault_hits = 0


def _fault(point: str) -> None:
    global _fault_hits
    if point == _FAULT_POINT:
        _fault_hits += 1
        if _fault_hits == _FAULT_AT:
            os.kill(os.getpid(), signal.SIGKILL)


STASH_FAILURE_LIMIT = 3  # consecutive failed scene reads that end a drain
PREFETCH_OPENS_PLEX = 8  # changed scenes in a batch worth opening Plex for before their jobs run


class Outcome(enum.Enum):
    SYNCED = "synced"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"          # scene deleted, or dry run
    LOW = "low confidence"
    RETRYING = "retrying"
    DEAD = "dead-lettered"


class StopDrain(Exception):
    """A condition that ends the whole drain (bad token, Plex down); the job stays queued."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(order=True)
class _Deferred:
    not_before: float
    job: QueuedJob = field(compare=False)


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
        self.started_at = time.time()
        self._plex_factory = plex_factory
        self._plex: PlexSession | None = None
        self._local = threading.local()      # one queue-database connection per thread (worker, lanes)
        self._conns: list[Any] = []
        self._shared = threading.RLock()     # Plex session, path index and circuit breaker: one at a time
        self._ahead = ReadAhead(scene_fragment(config))  # the running batch's reads (the fields the
        self._next_ahead = ReadAhead(scene_fragment(config))  # collection sources need, too); the next's
        self._inflight = InFlight(lanes_for(getattr(config, "parallel_edits", 0)))
        self._breaker: CircuitBreaker | None = None
        self._deferred: list[_Deferred] = []
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self.counts: dict[Outcome, int] = {o: 0 for o in Outcome}
        self.current_scene_id: int | None = None
        self.idle = threading.Event()
        self.stopped_for: StopDrain | None = None
        # Set when a job was already re-queued but the drain must end (Plex or Stash down).
        self._stop_after: StopDrain | None = None
        self._stash_failures = 0
        self.crashed: BaseException | None = None
        self._scene_view: SceneView | None = None
        self._collections: CollectionSync | None = None
        self._flushed_while_idle = False
        self._held = 0  # see held_count

    # ----- thread control (called from the drain's main thread) -----
    def stop(self) -> None:
        self._stop_event.set()

    @property
    def _conn(self) -> Any:
        """This thread's connection to the queue database (SQLite transactions cannot share one)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.data_dir)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

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
        with self._lock:
            return len(self._deferred)

    def next_retry_at(self) -> float | None:
        with self._lock:
            return self._deferred[0].not_before if self._deferred else None

    def run(self) -> None:
        """Batch after batch: while one runs on the lanes, the next is taken from the queue and read
        ahead (its Stash read and Plex item fetch overlap the running edits instead of waiting for
        them); it starts when the running one has finished."""
        self._breaker = CircuitBreaker.load(connect(self.data_dir))  # its own connection: lanes share it
        running: Batch | None = None
        taken: list[QueuedJob] = []  # taken from the queue and read ahead, not started yet
        try:
            while running is not None or not self._stop_event.is_set():
                taken = [] if self._should_stop() else self._next_due_batch()
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
            self._breaker.conn.close()
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

    def _run_lane_job(self, job: QueuedJob) -> None:
        try:
            self._run_one(job)
        except StopDrain as exc:
            with self._lock:
                self._stop_after = self._stop_after or exc  # the other lanes give their jobs back
        finally:
            with self._lock:
                self._held -= 1

    def _next_due_batch(self) -> list[QueuedJob]:
        """Up to BATCH_SIZE due jobs, in queue order (taken from the queue: unacked until each is done)."""
        jobs: list[QueuedJob] = []
        while len(jobs) < BATCH_SIZE and not self._stop_event.is_set():
            job = self._next_due_job()
            if job is None:
                break
            jobs.append(job)
        return jobs

    def _read_ahead(self, jobs: list[QueuedJob], busy: set[int]) -> None:
        """The next batch's scenes in one Stash query and, when the Plex session is open, the items of
        the scenes that changed in one Plex request (worker/read_ahead.py). Scenes of the running batch
        (`busy`) are left out: their jobs read for themselves once the running edit is done."""
        ahead = self._next_ahead
        ahead.clear()
        ahead.load_scenes(self.stash, [job.scene_id for job in jobs if job.scene_id not in busy])
        changed = self._changed_scenes(ahead, jobs)  # no request: the batch's copies and the sync state
        if not changed or (self._plex is None and len(changed) < PREFETCH_OPENS_PLEX):
            return  # an unchanged batch never opens Plex; a small one lets its first scene open it
        try:
            session = self._plex_session()
        except Exception as exc:  # noqa: BLE001 - each job opens it again and handles the error itself
            log.debug(f"opening Plex to read ahead failed ({log.redact(str(exc))[:200]})")
            return
        with self._shared:
            ahead.prefetch(session, changed, lambda r: r.confidence is not Confidence.NONE)

    def _changed_scenes(self, ahead: ReadAhead, jobs: list[QueuedJob]) -> list[tuple[int, dict[str, Any], int | None]]:
        """(scene id, scene, remembered ratingKey) of the batch's scenes whose state differs from their
        last sync, judged without the cover (a cover-only change is fetched by its job alone)."""
        changed = []
        view = self._view()  # the same scope and desired fields as the job itself (worker/scene_view.py)
        for job in jobs:
            scene = ahead.peek_scene(job.scene_id)
            if scene is None or view.out_of_scope(scene):
                continue
            record = get_record(self._conn, job.scene_id)
            if record is not None and record.rating_key and not job.data.get("force"):
                try:
                    desired = view.desired(scene)
                except Exception:  # noqa: BLE001 - Stash could not say (tag parents): the job reads it again
                    continue
                poster = record.poster_hash if self.settings.sync_cover or self.settings.sync_background_art \
                    else None  # as _sync_scene hashes it
                if scene_state_hash(scene, desired, poster) == record.content_hash:
                    continue
            changed.append((job.scene_id, scene, record.rating_key if record else None))
        return changed

    def release_deferred(self) -> int:
        """Give jobs still waiting for their retry time back to the queue (called after the thread ends)."""
        with self._lock:
            deferred, self._deferred = self._deferred, []
        for item in deferred:
            self.queue.nack(item.job)
        return len(deferred)

    # ----- picking jobs -----
    def _is_due(self, job: QueuedJob, now: float) -> bool:
        not_before = float(job.data.get("not_before") or 0)
        if not_before <= now:
            return True
        # A user's own press of "Process queue" makes every job queued before it due at once.
        return self.manual and float(job.data.get("requeued_at") or 0) < self.started_at

    def _next_due_job(self) -> QueuedJob | None:
        now = time.time()
        with self._lock:
            if self._deferred and self._deferred[0].not_before <= now:
                return heapq.heappop(self._deferred).job
        while True:
            job = self.queue.get_nowait()
            if job is None:
                return None
            if self._is_due(job, now):
                return job
            with self._lock:
                heapq.heappush(self._deferred, _Deferred(float(job.data.get("not_before") or 0), job))

    def make_scene_due(self, scene_id: int) -> bool:
        """A newer Stash state arrived for a scene waiting for its retry time: try it now.
        False when this worker does not hold the scene's job."""
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

    def look_again_now(self) -> None:
        """A user pressed Process queue while this drain waits: scenes waiting for Plex look at once."""
        if self._plex is not None:
            self._plex.index.force_next_look = True
        self.make_no_match_jobs_due()

    def make_no_match_jobs_due(self) -> None:
        """The path index was rebuilt: jobs waiting because their file was not in Plex may match now."""
        with self._lock:
            for item in self._deferred:
                if item.job.data.get("kind") in ("no-match", late_arrivals.KIND):
                    item.not_before = 0.0
            heapq.heapify(self._deferred)

    # ----- one job -----
    def _run_one(self, job: QueuedJob) -> None:
        scene_id = job.scene_id
        self.current_scene_id = scene_id
        try:
            try:
                outcome = self._process_job(job)
            except StopDrain:
                self.queue.nack(job)  # not the job's fault: it stays first in line for the next drain
                raise
            except Exception as exc:  # noqa: BLE001 - a bug or odd data must not block every later job
                log.error(f"scene {scene_id}: internal error {type(exc).__name__}: {log.redact(str(exc))[:300]}")
                outcome = self._retry(job, "internal", f"internal error {type(exc).__name__}", retry.NO_MATCH,
                                      dead_after=self.max_retries)
            with self._lock:
                self.counts[outcome] += 1
            if outcome is not Outcome.RETRYING:
                unmark_scene_pending(scene_id)
        finally:
            # Cleared last: the drain's feed must never see the scene as "queued, not running" while its
            # job is still being finished (it would drop a newer pending update).
            self.current_scene_id = None

    def _process_job(self, job: QueuedJob) -> Outcome:
        scene_id = job.scene_id
        try:
            # read_at is the sync timestamp: an update after that moment is not in what we write.
            scene, read_at = self._ahead.scene(self.stash, scene_id)  # the batch's read, else one now
            if scene is not None:
                self._view().prepare(scene)
            cover = None
            if scene is not None and (self.settings.sync_cover or self.settings.sync_background_art) \
                    and not self._view().out_of_scope(scene):
                cover = fetch_cover(self.stash, scene, (self.settings.connect_timeout, self.settings.read_timeout))
        except Exception as exc:  # noqa: BLE001 - stashapi raises bare Exception for GraphQL errors
            error = f"Stash: {log.redact(str(exc))[:300]}"
            outcome = self._retry(job, "stash", error, retry.STASH, dead_after=None)
            with self._lock:
                self._stash_failures += 1
            if self._stash_failures >= STASH_FAILURE_LIMIT:
                # Stash itself is failing: stop reading scene after scene; the next run retries them.
                self._stop_after = StopDrain("stash-down", f"Stash failed {self._stash_failures} reads in a row "
                                                           f"({error}); queued scenes are kept")
            return outcome
        self._stash_failures = 0
        if scene is None:
            log.debug(f"scene {scene_id} no longer exists in Stash; dropped")
            self.queue.ack(job)
            return Outcome.SKIPPED
        try:
            return self._sync_scene(job, scene, cover, read_at)
        except PlexSetupError as exc:
            raise StopDrain("settings", str(exc)) from None
        except StopDrain:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            return self._plex_failure(job, exc)

    def _plex_failure(self, job: QueuedJob, exc: Exception) -> Outcome:
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
            assert self._breaker is not None
            with self._shared:
                opened = self._breaker.record_failure(text)
            outcome = self._retry(job, "outage", f"Plex unreachable: {text}", retry.OUTAGE, dead_after=None)
            if opened or self._breaker.is_open:
                # The job is already re-queued: end the drain after it, without touching it again.
                self._stop_after = StopDrain("plex-down", f"Plex is not answering: circuit breaker "
                                                          f"{self._breaker.describe()}; queued scenes are kept")
            return outcome
        if kind is ErrorKind.NOT_FOUND:
            # The item vanished since the index was built: rebuild and treat like "not in Plex yet".
            if self._plex is not None:
                with self._shared:
                    self._plex.index.look_again_on_miss()
            return self._retry(job, "no-match", f"Plex item not found: {text}", retry.NO_MATCH,
                               dead_after=self.max_retries)
        if kind is None:
            raise exc  # not a Plex answer: _run_one retries it as an internal error
        return self._retry(job, "plex-error", f"Plex error: {text}", retry.NO_MATCH, dead_after=self.max_retries)

    def _retry(self, job: QueuedJob, kind: str, error: str, backoff: retry.Backoff,
               dead_after: int | None) -> Outcome:
        attempt = int(job.data.get("attempt") or 0) + 1
        if dead_after is not None and attempt > dead_after:
            with transaction(self._conn):
                dead_letters.add(self._conn, job.scene_id, error, attempt - 1, job.data)
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

    def _plex_session(self) -> PlexSession:
        if self._plex is None:
            with self._shared:  # lanes wait for the one that opens it (and builds the path index)
                if self._plex is None:
                    assert self._breaker is not None
                    # Its own connection: the path index keeps it, and lanes use the session in turn.
                    plex = self._plex_factory(self.settings, connect(self.data_dir))
                    plex.index.force_next_look = self.manual  # a user's press always asks Plex again
                    self._breaker.record_success()
                    self._plex = plex
        return self._plex

    def _view(self) -> SceneView:
        if self._scene_view is None:
            self._scene_view = SceneView(self.settings, lambda q, v: stash_call(self.stash, q, v),
                                         str(getattr(self.stash, "url", "") or ""))
        return self._scene_view

    def _sync_scene(self, job: QueuedJob, scene: dict[str, Any], cover: bytes | None, read_at: float) -> Outcome:
        scene_id = job.scene_id
        settings = self.settings
        out_of_scope = self._view().out_of_scope(scene)
        if out_of_scope:
            log.debug(f"scene {scene_id}: not synced, out of scope: {out_of_scope}; its Plex item is left as it is")
            self.queue.ack(job)
            return Outcome.SKIPPED
        desired = self._view().desired(scene)
        poster_hash = image_state(cover, settings) if settings.sync_cover or settings.sync_background_art else None
        state_hash = scene_state_hash(scene, desired, poster_hash)
        record = get_record(self._conn, scene_id)
        force = bool(job.data.get("force"))
        if not force and record is not None and record.rating_key and record.content_hash == state_hash:
            self._finish(job, scene, record.rating_key, record.section_id, state_hash, poster_hash, read_at)
            log.debug(f"scene {scene_id}: unchanged since the last sync; no Plex request")
            return Outcome.UNCHANGED

        session = self._plex_session()
        with self._shared:
            result = self._ahead.match(session, scene_id, scene, record.rating_key if record else None)
        if result.rebuilt:
            self.make_no_match_jobs_due()
        if late_arrivals.is_late_arrival(result):
            return self._retry(job, *late_arrivals.next_step(job, result, session, settings))
        if result.confidence is Confidence.NONE:
            return self._retry(job, "no-match", f"no Plex item has the file {result.stash_path or '(no file)'} "
                               f"({result.reason or 'not in the path index'})", retry.NO_MATCH,
                               dead_after=self.max_retries)
        if job.data.get("kind") == late_arrivals.KIND:
            # Found after waiting for Plex: the looks were not failures, so a later error gets every retry.
            job.data.update(attempt=0, kind=None)
            job.data.pop("first_missed_at", None)
        chosen = result.item
        if result.confidence is Confidence.LOW:
            line = format_review_line(scene_id, result.stash_path, result.candidates, chosen,
                                      settings.strict_matching)
            log.warning(line)
            if settings.strict_matching or chosen is None:
                with transaction(self._conn):
                    reviews.record(self._conn, scene_id, line)
                self.queue.ack(job)
                return Outcome.LOW

        found = fetch_matched_item(session, scene, result, self._holds_scene_file,
                                   fetch=lambda key: self._ahead.item(key, lambda k: fetch_item(session.plex, k)),
                                   index_lock=self._shared)
        if found is None:
            # The index was stale (item re-scanned, moved or deleted): never edit an item that is not it.
            return self._retry(job, "no-match", f"Plex item {result.rating_key} no longer has the file "
                               f"{result.stash_path}", retry.NO_MATCH, dead_after=self.max_retries)
        result, item = found
        chosen = result.item or chosen
        hashed_desired = desired  # what state_hash was made of; apply_to below adds hand-made collections
        membership = None
        with self._shared:  # one lane at a time plans against the managed collections
            if "collection" in desired or self._collection_sync().manages_any():
                # exact managed membership, hand-made collections kept, renames first
                membership = self._collection_sync().plan(session.plex, item, int(item.librarySectionID), scene,
                                                          settings.dry_run)
                desired = CollectionSync.apply_to(desired, membership)
        images_changed = bool(cover and (
            record is None or record.poster_hash != poster_hash or record.rating_key != result.rating_key or force))
        poster_changed = settings.sync_cover and images_changed
        art_changed = settings.sync_background_art and images_changed
        if poster_changed and settings.preserve_plex_edits and getattr(item, "thumb", None):
            poster_changed = False  # preserve_plex_edits fills only what is empty: Plex already has a poster
        plan = plan_edit(item, desired, settings, poster_changed=poster_changed, art_changed=art_changed)
        if settings.dry_run:
            log.info(f"dry run: scene {scene_id} -> Plex {result.rating_key}: {describe_plan(plan)}"
                     f"{'; poster would be uploaded' if poster_changed else ''}"
                     f"{'; background would be uploaded' if art_changed else ''}")
            self.queue.ack(job)
            return Outcome.SKIPPED
        _fault("before_edit")
        apply_edit(item, plan)
        _fault("after_edit")
        if poster_changed:
            upload_poster(item, poster_bytes(cover, settings, scene_id))
        if art_changed:
            upload_art(item, cover)
        with self._shared:
            if membership is not None:
                self._collection_sync().record(scene_id, membership)
            self._breaker.record_success()
        section_id = plan.section_id or (chosen.section_id if chosen else None)
        link = None
        if settings.link_plex_in_stash and result.confidence is Confidence.HIGH:
            link = stash_link.planned_link(scene, str(getattr(session.plex, "machineIdentifier", "") or ""),
                                           result.rating_key)
        if link:  # the state is recorded as it will be once the link is in: its hook run then finds no change
            state_hash = scene_state_hash(dict(scene, urls=stash_link.urls_after(scene, link)), hashed_desired,
                                          poster_hash)
        self._finish(job, scene, result.rating_key, section_id, state_hash,
                     poster_hash if cover else (record.poster_hash if record else None), read_at)
        log.info(f"scene {scene_id} synced to Plex item {result.rating_key}: {describe_plan(plan)}"
                 f"{'; poster uploaded' if poster_changed else ''}{'; background uploaded' if art_changed else ''}")
        if link:
            self._add_link(scene_id, link)
        return Outcome.SYNCED

    def _add_link(self, scene_id: int, link: str) -> None:
        """After the sync is recorded (so the hook this write fires recognises it and records nothing)."""
        try:
            stash_link.add_link(self.stash, scene_id, link)
            log.debug(f"scene {scene_id}: added its Plex link to the scene's URLs in Stash")
        except Exception as exc:  # noqa: BLE001 - the sync itself succeeded; the next sync tries again
            log.warning(f"scene {scene_id}: could not add the Plex link to the scene's URLs in Stash "
                        f"({log.redact(str(exc))[:200]}); it is tried again on the scene's next sync")
    def _collection_sync(self) -> CollectionSync:
        """Shared by the lanes and used only under self._shared, so it keeps one connection of its own."""
        with self._shared:
            if self._collections is None:
                conn = connect(self.data_dir)
                with self._lock:
                    self._conns.append(conn)  # closed with the lanes' connections when the worker ends
                self._collections = CollectionSync(conn, self.settings, self.stash)
            return self._collections

    def _flush_collections(self) -> None:
        """Once per idle spell: bring touched collections' text, poster, order and emptiness in line."""
        if self._flushed_while_idle or self._conn is None:
            return
        self._flushed_while_idle = True
        sync = self._collection_sync()
        if not sync.has_work():
            return
        try:
            session = self._plex_session()
            with self._shared:
                sync.flush(session.plex, self.settings.dry_run)
        except Exception as exc:  # noqa: BLE001 - the rows stay marked; the next idle spell or drain retries
            log.warning(f"collections: {safe_error_text(exc, self.settings.plex_token)}; "
                        f"kept for the next run")

    def _holds_scene_file(self, item: Any, result: Any) -> bool:
        """The fetched item's part files include one of the scene's (mapped) files."""
        assert self._plex is not None
        wanted = set(self._plex.matcher.mapped_keys(result.stash_paths))
        return any(normalise_path(str(path)) in wanted for path in (read_field(item, "locations") or ()))

    def _finish(self, job: QueuedJob, scene: dict[str, Any], rating_key: int, section_id: int | None,
                state_hash: str, poster_hash: str | None, synced_at: float) -> None:
        """Record the sync (the plan's save_sync_timestamp), then ack. A kill in between only repeats an
        idempotent edit on the next drain; it never loses the job."""
        with transaction(self._conn):  # state row and review cleanup commit together
            save_sync_timestamp(self.data_dir, job.scene_id, synced_at, conn=self._conn,
                                stash_updated_at=scene.get("updated_at"), rating_key=rating_key,
                                section_id=section_id, content_hash=state_hash, poster_hash=poster_hash)
            reviews.resolve(self._conn, job.scene_id)
            dead_letters.resolve(self._conn, job.scene_id)
            _fault("during_state_write")  # a kill here rolls the row back: the job simply runs again
        _fault("before_ack")
        self.queue.ack(job)
