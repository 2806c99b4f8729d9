"""Late-update detection: the "Sync recent", "Sync all" and "Force sync all" tasks.

Auto Tag, scene merges and renames change what Plex should show without firing a scene hook. These
tasks list scenes from Stash (stdlib GraphQL client, paged), decide which ones may differ from Plex, record
them in the pending set and make sure a "Process queue" run follows (Stash runs it after this task).

- Sync recent: scenes whose `updated_at` is newer than the last run's watermark (minus a margin) and
  newer than their own last sync. `updated_at` is RFC 3339 text with second precision and the server's
  offset, and Stash's filter compares it as TEXT, so the watermark is always a string Stash returned,
  shifted back by MARGIN in its own offset style; results are deduped by id and compared as instants.
- Sync all: every scene. A scene is skipped when its sync state proves nothing changed: same
  `updated_at` as last time (covers, files) AND the same state hash the worker wrote (fields, files,
  URLs: this catches renames and settings changes, which leave `updated_at` alone). Skipped scenes cost
  no Plex request and not even a per-scene Stash read.
- Force sync all: every scene, force=True (re-sent even when the worker would call it unchanged).

Scenes waiting for review (LOW confidence) or dead-lettered are left alone unless they changed since:
the review / dead-letter tasks own them, and re-queueing them would cost Plex requests for nothing.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from hooks.drain_trigger import ensure_drain
from queue import pending
from queue.database import get_state, set_state, transaction
from queue.operations import SyncRecord
from stash import log
from stash.graphql import StashClient
from stash.protocol import Invocation
from validation.config import Settings
from worker.jobs import queued_scene_rows
from worker.scene_pages import SCENE_LIST_QUERY, scene_pages  # noqa: F401 - SCENE_LIST_QUERY: public name

PER_PAGE = 500
# Larger than any UTC-offset change (DST shifts are at most 1 h), so a text comparison across an offset
# change still includes every newer row; extra rows cost one indexed lookup each.
MARGIN = timedelta(hours=2)
# synced_at is when the worker read the scene. A read inside the scene's updated_at second (Stash keeps
# second precision) may have come just before a second edit within that same second, which leaves the
# same updated_at text: such a sync counts as possibly stale. A read after that second saw every edit of it.
SAME_SECOND_SLACK = 1.0
WATERMARK_KEY = "sync_recent_watermark"
LAST_RUN_KEY = "last_reconcile"

ID_FIELDS = "id updated_at"


# ----- time helpers -----------------------------------------------------------------------------------

def parse_stash_time(text: Any) -> datetime | None:
    """RFC 3339 text from Stash -> timezone-aware datetime (None when missing or unparseable)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def shift_like(text: str, delta: timedelta) -> str | None:
    """`text` moved by delta, written in the same offset style (so Stash's TEXT comparison stays valid)."""
    value = parse_stash_time(text)
    if value is None:
        return None
    shifted = (value + delta).isoformat(timespec="seconds")
    if text.strip().endswith("Z") and shifted.endswith("+00:00"):
        shifted = shifted[:-6] + "Z"
    return shifted


# ----- listing scenes -----------------------------------------------------------------------------------

def iter_scene_pages(client: StashClient, fields: str, scene_filter: dict[str, Any] | None = None,
                     per_page: int = PER_PAGE, limit: int | None = None,
                     on_page: Any = None, direction: str = "ASC",
                     look_ahead: bool = False) -> Iterator[dict[str, Any]]:
    """Every scene matching the filter, deduped by id, in pages sorted by created_at (a scene's position
    never moves when it is edited during the listing; new scenes go to the end). look_ahead: Stash
    builds the next page while the caller works through this one (worker/scene_pages.py)."""
    seen: set[str] = set()
    for page in scene_pages(client.execute, fields, scene_filter, per_page, direction, look_ahead):
        for scene in page.scenes:
            sid = str(scene.get("id"))
            if sid in seen:
                continue
            seen.add(sid)
            yield scene
            if limit is not None and len(seen) >= limit:
                return
        if on_page is not None:
            on_page(min(page.number * per_page, page.total), page.total)


# ----- what the database already knows -----------------------------------------------------------------

@dataclass
class Known:
    """Per-page view of the queue database for a batch of scene ids."""
    records: dict[int, SyncRecord] = field(default_factory=dict)
    reviews: dict[int, float] = field(default_factory=dict)
    dead: dict[int, float] = field(default_factory=dict)


def load_known(conn: Any, scene_ids: list[int]) -> Known:
    known = Known()
    for start in range(0, len(scene_ids), 500):
        chunk = scene_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute("SELECT scene_id, synced_at, stash_updated_at, rating_key, section_id, "
                                f"content_hash, poster_hash FROM sync_state WHERE scene_id IN ({marks})", chunk):
            known.records[int(row[0])] = SyncRecord(*row)
        for sid, at in conn.execute(f"SELECT scene_id, recorded_at FROM reviews WHERE scene_id IN ({marks})",
                                    chunk):
            known.reviews[int(sid)] = float(at)
        for sid, at in conn.execute(f"SELECT scene_id, failed_at FROM dead_letters WHERE scene_id IN ({marks})",
                                    chunk):
            known.dead[int(sid)] = float(at)
    return known


def already_queued(conn: Any) -> set[int]:
    """Scenes in the pending set or the job queue (read with plain SQL; persist-queue is never opened)."""
    ids = {int(r[0]) for r in conn.execute("SELECT scene_id FROM pending")}
    ids.update(int(job["scene_id"]) for _pqid, job, _status in queued_scene_rows(conn))
    return ids


def newer_than_sync(updated: datetime | None, record: SyncRecord, same_second_check: bool) -> bool:
    """Did Stash change the scene after the sync that `record` describes?"""
    if updated is None:
        return True  # cannot tell: let the worker decide (it skips unchanged scenes without Plex requests)
    synced_version = parse_stash_time(record.stash_updated_at)
    if synced_version is None:
        return updated.timestamp() > float(record.synced_at)
    if updated > synced_version:
        return True
    # Same second: an edit right after the worker's read keeps the same updated_at text.
    return same_second_check and updated == synced_version and \
        float(record.synced_at) < updated.timestamp() + SAME_SECOND_SLACK


def parked_reason(scene_id: int, updated: datetime | None, known: Known) -> str | None:
    """A LOW match awaiting review, or a dead letter, that has not changed since: leave it parked."""
    if updated is None:
        return None
    at = updated.timestamp()
    if scene_id in known.reviews and at <= known.reviews[scene_id]:
        return "review"
    if scene_id in known.dead and at <= known.dead[scene_id]:
        return "dead letter"
    return None


# ----- the tasks ----------------------------------------------------------------------------------------

@dataclass
class Tally:
    listed: int = 0
    queued: list[int] = field(default_factory=list)
    unchanged: int = 0
    already: int = 0
    review: int = 0
    dead: int = 0

    def parked(self, why: str) -> None:
        if why == "review":
            self.review += 1
        else:
            self.dead += 1

    def describe(self) -> str:
        text = f"{self.listed} scene(s) checked, {len(self.queued)} queued, {self.unchanged} unchanged"
        if self.already:
            text += f", {self.already} already queued"
        if self.review:
            text += f", {self.review} awaiting review"
        if self.dead:
            text += f", {self.dead} dead-lettered"
        return text


def _progress(done: int, total: int) -> None:
    log.progress(done / total if total else 1.0)


def _queue_and_drain(runtime: Any, settings: Settings, client: StashClient, ids: list[int], reason: str,
                     force: bool = False) -> str:
    if not ids:
        return "nothing to sync"
    pending.record_many(runtime.conn, ids, reason, force=force)
    if not settings.plex_configured:
        log.warning(settings.missing_plex_message())
        return "Plex not configured"
    return f"drain {ensure_drain(runtime.conn, client, trigger='task')}"


def _remember_run(conn: Any, task: str, summary: str) -> None:
    with transaction(conn):
        set_state(conn, LAST_RUN_KEY, json.dumps({"task": task, "finished_at": time.time(), "summary": summary}))


def sort_page(conn: Any, page: list[dict[str, Any]], queued_now: set[int], tally: "Tally",
              unchanged: Callable[[dict[str, Any], SyncRecord, datetime | None], bool]) -> None:
    """Sort one page of Stash scenes into already queued, unchanged since their sync, parked (review or
    dead letter, unchanged since) and to be queued; empties the page."""
    known = load_known(conn, [int(scene["id"]) for scene in page])
    for scene in page:
        sid = int(scene["id"])
        updated = parse_stash_time(scene.get("updated_at"))
        if sid in queued_now:
            tally.already += 1
            continue
        record = known.records.get(sid)
        if record is not None and record.rating_key and unchanged(scene, record, updated):
            tally.unchanged += 1
            continue
        why = parked_reason(sid, updated, known)
        if why is not None:
            tally.parked(why)
            continue
        tally.queued.append(sid)
    page.clear()


def _disabled(settings: Settings, task: str) -> str | None:
    if not settings.enabled:
        log.info(f"Pause sync is on in the PlexSync settings; {task} did nothing")
        return "disabled"
    return None


def sync_recent(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    """Queue scenes changed in Stash since the last run's watermark (minus MARGIN) and since their sync."""
    if (off := _disabled(settings, "Sync recent")) is not None:
        return off
    started = time.monotonic()
    conn = runtime.conn
    watermark = get_state(conn, WATERMARK_KEY)
    since = shift_like(watermark, -MARGIN) if watermark else None
    scene_filter = {"updated_at": {"value": since, "modifier": "GREATER_THAN"}} if since else None
    queued_now = already_queued(conn)
    tally = Tally()
    previous = parse_stash_time(watermark)
    newest: tuple[datetime, str] | None = (previous, str(watermark)) if previous is not None else None
    page: list[dict[str, Any]] = []

    def flush() -> None:
        sort_page(conn, page, queued_now, tally,
                  lambda _scene, record, updated: not newer_than_sync(updated, record, True))

    for scene in iter_scene_pages(client, ID_FIELDS, scene_filter, on_page=_progress):
        tally.listed += 1
        updated = parse_stash_time(scene.get("updated_at"))
        if updated is not None and (newest is None or updated > newest[0]):
            newest = (updated, str(scene["updated_at"]))
        page.append(scene)
        if len(page) >= PER_PAGE:
            flush()
    flush()
    drain = _queue_and_drain(runtime, settings, client, tally.queued, "sync-recent")
    if newest is not None:
        with transaction(conn):
            set_state(conn, WATERMARK_KEY, newest[1])  # a string Stash returned, never our own clock
    window = f"updated after {since}" if since else "first run: every scene"
    summary = (f"Sync recent ({window}): {tally.describe()}; {drain}; "
               f"in {time.monotonic() - started:.1f} s")
    log.progress(1.0)
    log.info(summary)
    _remember_run(conn, "Sync recent", summary)
    return summary


def _sync_every_scene(runtime: Any, settings: Settings, client: StashClient, force: bool) -> str:
    task = "Force sync all" if force else "Sync all"
    if (off := _disabled(settings, task)) is not None:
        return off
    started = time.monotonic()
    conn = runtime.conn
    tally = Tally()
    if force:
        for scene in iter_scene_pages(client, "id", on_page=_progress):
            tally.listed += 1
            tally.queued.append(int(scene["id"]))
    else:
        # Imported here: the fragment and hashes are the worker's own, so "unchanged" means exactly what
        # the worker would decide (these pull in stashapi/plexapi, which a task may load).
        from validation.metadata import unchanged_since_sync  # noqa: PLC0415
        from worker.scene_view import SceneView  # noqa: PLC0415
        from worker.stash_reader import scene_fragment  # noqa: PLC0415
        view = SceneView(settings, client.execute, client.url)

        queued_now = already_queued(conn)
        fragment = scene_fragment(settings)
        page: list[dict[str, Any]] = []

        def unchanged(scene: dict[str, Any], record: SyncRecord, updated: datetime | None) -> bool:
            if view.out_of_scope(scene):
                return True  # nothing to send: the worker would skip it (its Plex item is left as it is)
            if newer_than_sync(updated, record, False):
                return False
            return unchanged_since_sync(scene, view.desired(scene), record, settings)

        def flush() -> None:
            sort_page(conn, page, queued_now, tally, unchanged)

        # Stash builds the next page while this one is hashed: the two take turns otherwise.
        for scene in iter_scene_pages(client, fragment, on_page=_progress, look_ahead=True):
            tally.listed += 1
            page.append(scene)
            if len(page) >= PER_PAGE:
                flush()
        flush()
    drain = _queue_and_drain(runtime, settings, client, tally.queued, "force-sync-all" if force else "sync-all",
                             force=force)
    summary = f"{task}: {tally.describe()}; {drain}; in {time.monotonic() - started:.1f} s"
    log.progress(1.0)
    log.info(summary)
    _remember_run(conn, task, summary)
    return summary


def sync_all(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    """Check every scene; queue those whose Plex state may differ (unchanged ones cost nothing)."""
    return _sync_every_scene(runtime, settings, client, force=False)


def force_sync_all(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    """Queue every scene with force=True: re-sent to Plex whether or not it changed."""
    return _sync_every_scene(runtime, settings, client, force=True)
