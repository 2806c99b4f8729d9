"""Scene.Update.Post / Scene.Create.Post: decide whether an update needs a sync and record it.

Names follow the original plan: `on_scene_update` plus the in-memory pending set
(`is_scene_pending`, `mark_scene_pending`, `unmark_scene_pending`), which the drain process uses to
mirror the scene ids it holds in the job queue. Across processes the pending set is the `pending`
table of the queue database (see queue/pending.py).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from queue.pending import PendingSet
from stash import log
from validation.config import Settings

# SceneUpdateInput keys whose change can alter what Plex shows (Stash sends every key; inputFields
# says which ones the client set). `files`/`primary_file_id` matter because matching is by path.
SYNCED_INPUT_FIELDS = frozenset({
    "title", "code", "details", "director", "url", "urls", "date", "rating100", "studio_id",
    "performer_ids", "tag_ids", "groups", "movies", "cover_image", "primary_file_id",
})

_in_queue: set[int] = set()
_in_queue_lock = threading.Lock()


def is_scene_pending(scene_id: int) -> bool:
    with _in_queue_lock:
        return scene_id in _in_queue


def mark_scene_pending(scene_id: int) -> None:
    with _in_queue_lock:
        _in_queue.add(scene_id)


def unmark_scene_pending(scene_id: int) -> None:
    """Called when a job ends, whether it succeeded or failed, so a later update queues it again."""
    with _in_queue_lock:
        _in_queue.discard(scene_id)


def touches_synced_field(update_data: Mapping[str, Any]) -> bool:
    """A scan or create sends `input: null`: always relevant (a moved file changes the match)."""
    if update_data.get("input") is None:
        return True
    fields = update_data.get("inputFields")
    if not isinstance(fields, list):
        return True  # no field list: cannot prove it is irrelevant
    return any(isinstance(f, str) and f in SYNCED_INPUT_FIELDS for f in fields)


def _update_time(update_data: Mapping[str, Any], now: float) -> float:
    """The payload's updated_at when present (RFC 3339 text or epoch), else now (Stash sends none)."""
    value = update_data.get("updated_at")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return now
    return now


def on_scene_update(scene_id: int, update_data: Mapping[str, Any], queue: PendingSet,
                    data_dir: str | None = None, sync_timestamps: Mapping[int, float] | None = None,
                    settings: Settings | None = None, reason: str = "hook") -> bool:
    """Filter one scene update and record it. Returns True when the scene became pending."""
    if settings is not None and not settings.enabled:
        log.debug(f"scene {scene_id}: Pause sync is on, update not recorded")
        return False
    if not touches_synced_field(update_data):
        log.debug(f"scene {scene_id}: update touches no synced field, skipped")
        return False
    now = time.time()
    updated = _update_time(update_data, now)
    if sync_timestamps is not None:
        last_sync = sync_timestamps.get(scene_id)
        if last_sync is not None and last_sync >= updated:
            log.debug(f"scene {scene_id}: already synced since this update, skipped")
            return False
    if scene_id in queue:
        # Still waiting, not started: refresh the row; the worker reads the scene's state when it runs.
        queue.record(scene_id, reason, updated_at=updated)
        log.debug(f"scene {scene_id}: already pending, refreshed")
        return False
    queue.record(scene_id, reason, updated_at=updated)
    log.debug(f"scene {scene_id}: recorded as pending")
    return True
