"""One job's sync of its scene, in the order the data flows: read the scene from Stash, decide (out of
scope? unchanged since the last sync, so no Plex request?), match it to a Plex item, plan the edit, write
it in one locked edit (cover upload when it changed), record the sync state, then ack the job.

The worker (worker/processor.py) calls `run` once per job on the job's lane; what happens when a step
fails is the failure policy's (worker/failure_policy.py).
"""
from __future__ import annotations

import os
import signal
from typing import Any, Callable

from plex.artwork import image_state, poster_bytes
from plex.matcher import Confidence
from plex.paths import normalise_path
from plex.review import format_review_line
from plex.writer import apply_edit, describe_plan, fetch_item, plan_edit, read_field, upload_art, upload_poster
from queue import dead_letters, reviews
from queue.database import transaction
from queue.operations import get_record, save_sync_timestamp
from stash import log
from validation.config import Settings
from validation.metadata import scene_state_hash, unchanged_since_sync
from worker import late_arrivals, stash_link
from worker.collections import CollectionSync
from worker.failure_policy import FailurePolicy
from worker.jobs import JobQueue, QueuedJob
from worker.outcomes import Outcome, StopDrain
from worker.plex_session import PlexSetupError
from worker.read_ahead import ReadAhead
from worker.recreated import fetch_matched_item
from worker.scene_view import SceneView
from worker.shared_plex import SharedPlex
from worker.stash_gql import stash_call
from worker.stash_reader import fetch_cover


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


class SceneSync:
    """One per worker, called from every lane. `conn` gives the calling thread's queue-database
    connection; the Plex session, path index and collections are used only under `plex.lock`."""

    def __init__(self, queue: JobQueue, settings: Settings, stash: Any, data_dir: str, plex: SharedPlex,
                 failures: FailurePolicy, *, conn: Callable[[], Any], index_rebuilt: Callable[[], None]) -> None:
        self.queue = queue
        self.settings = settings
        self.stash = stash
        self.data_dir = data_dir
        self._plex = plex
        self._failures = failures
        self._conn = conn
        self._index_rebuilt = index_rebuilt  # jobs waiting for a file not in Plex may match now
        self._scene_view: SceneView | None = None

    def view(self) -> SceneView:
        if self._scene_view is None:
            self._scene_view = SceneView(self.settings, lambda q, v: stash_call(self.stash, q, v),
                                         str(getattr(self.stash, "url", "") or ""))
        return self._scene_view

    def changed_scenes(self, ahead: ReadAhead, jobs: list[QueuedJob]) -> list[tuple[int, dict[str, Any], int | None]]:
        """(scene id, scene, remembered ratingKey) of the batch's scenes whose state differs from their
        last sync, judged without the cover (a cover-only change is fetched by its job alone)."""
        changed = []
        view = self.view()  # the same scope and desired fields as the job itself (worker/scene_view.py)
        for job in jobs:
            scene = ahead.peek_scene(job.scene_id)
            if scene is None or view.out_of_scope(scene):
                continue
            record = get_record(self._conn(), job.scene_id)
            if record is not None and record.rating_key and not job.data.get("force"):
                try:
                    desired = view.desired(scene)
                except Exception:  # noqa: BLE001 - Stash could not say (tag parents): the job reads it again
                    continue
                if unchanged_since_sync(scene, desired, record, self.settings):
                    continue
            changed.append((job.scene_id, scene, record.rating_key if record else None))
        return changed

    def run(self, job: QueuedJob, ahead: ReadAhead) -> Outcome:
        """The job's whole sync; `ahead` is its batch's read-ahead. Raises StopDrain when the whole drain
        must end (the caller leaves the job queued)."""
        scene_id = job.scene_id
        try:
            # read_at is the sync timestamp: an update after that moment is not in what we write.
            scene, read_at = ahead.scene(self.stash, scene_id)  # the batch's read, else one now
            if scene is not None:
                self.view().prepare(scene)
            cover = None
            if scene is not None and (self.settings.sync_cover or self.settings.sync_background_art) \
                    and not self.view().out_of_scope(scene):
                cover = fetch_cover(self.stash, scene, (self.settings.connect_timeout, self.settings.read_timeout))
        except Exception as exc:  # noqa: BLE001 - stashapi raises bare Exception for GraphQL errors
            return self._failures.stash_failed(job, exc)
        self._failures.stash_answered()
        if scene is None:
            log.debug(f"scene {scene_id} no longer exists in Stash; dropped")
            self.queue.ack(job)
            return Outcome.SKIPPED
        try:
            return self._sync_scene(job, scene, cover, read_at, ahead)
        except PlexSetupError as exc:
            raise StopDrain("settings", str(exc)) from None
        except StopDrain:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            return self._failures.plex_failed(job, exc)

    def _sync_scene(self, job: QueuedJob, scene: dict[str, Any], cover: bytes | None, read_at: float,
                    ahead: ReadAhead) -> Outcome:
        scene_id = job.scene_id
        settings = self.settings
        out_of_scope = self.view().out_of_scope(scene)
        if out_of_scope:
            log.debug(f"scene {scene_id}: not synced, out of scope: {out_of_scope}; its Plex item is left as it is")
            self.queue.ack(job)
            return Outcome.SKIPPED
        desired = self.view().desired(scene)
        poster_hash = image_state(cover, settings) if settings.sync_cover or settings.sync_background_art else None
        state_hash = scene_state_hash(scene, desired, poster_hash)
        record = get_record(self._conn(), scene_id)
        force = bool(job.data.get("force"))
        if not force and record is not None and record.rating_key and record.content_hash == state_hash:
            self._finish(job, scene, record.rating_key, record.section_id, state_hash, poster_hash, read_at)
            log.debug(f"scene {scene_id}: unchanged since the last sync; no Plex request")
            return Outcome.UNCHANGED

        session = self._plex.open()
        shared = self._plex.lock
        with shared:
            result = ahead.match(session, scene_id, scene, record.rating_key if record else None)
        if result.rebuilt:
            self._index_rebuilt()
        if late_arrivals.is_late_arrival(result):
            return self._failures.retry(job, *late_arrivals.next_step(job, result, session, settings))
        if result.confidence is Confidence.NONE:
            return self._failures.no_match(job, f"no Plex item has the file {result.stash_path or '(no file)'} "
                                                f"({result.reason or 'not in the path index'})")
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
                conn = self._conn()
                with transaction(conn):
                    reviews.record(conn, scene_id, line)
                self.queue.ack(job)
                return Outcome.LOW

        found = fetch_matched_item(session, scene, result, self._holds_scene_file,
                                   fetch=lambda key: ahead.item(key, lambda k: fetch_item(session.plex, k)),
                                   index_lock=shared)
        if found is None:
            # The index was stale (item re-scanned, moved or deleted): never edit an item that is not it.
            return self._failures.no_match(job, f"Plex item {result.rating_key} no longer has the file "
                                                f"{result.stash_path}")
        result, item = found
        chosen = result.item or chosen
        hashed_desired = desired  # what state_hash was made of; apply_to below adds hand-made collections
        membership = None
        with shared:  # one lane at a time plans against the managed collections
            if "collection" in desired or self._plex.collection_sync().manages_any():
                # exact managed membership, hand-made collections kept, renames first
                membership = self._plex.collection_sync().plan(session.plex, item, int(item.librarySectionID),
                                                               scene, settings.dry_run)
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
        with shared:
            if membership is not None:
                self._plex.collection_sync().record(scene_id, membership)
            self._plex.breaker.record_success()
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

    def _holds_scene_file(self, item: Any, result: Any) -> bool:
        """The fetched item's part files include one of the scene's (mapped) files."""
        assert self._plex.session is not None
        wanted = set(self._plex.session.matcher.mapped_keys(result.stash_paths))
        return any(normalise_path(str(path)) in wanted for path in (read_field(item, "locations") or ()))

    def _finish(self, job: QueuedJob, scene: dict[str, Any], rating_key: int, section_id: int | None,
                state_hash: str, poster_hash: str | None, synced_at: float) -> None:
        """Record the sync (the plan's save_sync_timestamp), then ack. A kill in between only repeats an
        idempotent edit on the next drain; it never loses the job."""
        conn = self._conn()
        with transaction(conn):  # state row and review cleanup commit together
            save_sync_timestamp(self.data_dir, job.scene_id, synced_at, conn=conn,
                                stash_updated_at=scene.get("updated_at"), rating_key=rating_key,
                                section_id=section_id, content_hash=state_hash, poster_hash=poster_hash)
            reviews.resolve(conn, job.scene_id)
            dead_letters.resolve(conn, job.scene_id)
            _fault("during_state_write")  # a kill here rolls the row back: the job simply runs again
        _fault("before_ack")
        self.queue.ack(job)
