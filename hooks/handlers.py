"""Scene.Update.Post / Scene.Create.Post: decide whether an update needs a sync and record it.

Names follow the original plan: `on_scene_update` plus the in-memory pending set
(`is_scene_pending`, `mark_scene_pending`, `unmark_scene_pending`), which the drain process uses to
mirror the scene ids it holds in the job queue. Across processes the pending set is the `pending`
table of the queue database (see queue/pending.py).
"""
from __future__ import annotations

import _thread  # threading's lock without threading's import cost (every Save runs this module)
import time

from stash import log

TYPE_CHECKING = False  # the hook imports neither typing nor the config module for annotations
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from queue.pending import PendingSet
    from validation.config import Settings

# SceneUpdateInput keys whose change can alter what Plex shows (Stash sends every key; inputFields
# says which ones the client set). `files`/`primary_file_id` matter because matching is by path.
SYNCED_INPUT_FIELDS = frozenset({
    "title", "code", "details", "director", "url", "urls", "date", "rating100", "studio_id",
    "performer_ids", "tag_ids", "groups", "movies", "cover_image", "primary_file_id",
})

_in_queue: set[int] = set()
_in_queue_lock = _thread.allocate_lock()


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


# Input keys a scope gate may read (worker/scope.py). The entry point's settings-free first filter lets them
# through; on_scene_update then applies only the gates the settings turn on.
SCOPE_INPUT_FIELDS = frozenset({"organized", "stash_ids"})


def touches_synced_field(update_data: Mapping[str, Any], extra_fields: frozenset[str] = frozenset()) -> bool:
    """A scan or create sends `input: null`: always relevant (a moved file changes the match).
    `extra_fields`: input keys that matter under the current settings (scope gates: worker/scope.py)."""
    if update_data.get("input") is None:
        return True
    fields = update_data.get("inputFields")
    if not isinstance(fields, list):
        return True  # no field list: cannot prove it is irrelevant
    return any(isinstance(f, str) and (f in SYNCED_INPUT_FIELDS or f in extra_fields) for f in fields)


def _update_time(update_data: Mapping[str, Any], now: float) -> float:
    """The payload's updated_at when present (RFC 3339 text or epoch), else now (Stash sends none)."""
    value = update_data.get("updated_at")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        from datetime import datetime  # noqa: PLC0415 - Stash sends no updated_at; only tests do
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
    from hooks.own_writes import is_own_link_write  # noqa: PLC0415 - past the settings-free first filter
    from worker.scope import gate_input_fields  # noqa: PLC0415
    if not touches_synced_field(update_data, gate_input_fields(settings)):
        log.debug(f"scene {scene_id}: update touches no synced field, skipped")
        return False
    if is_own_link_write(queue.conn, scene_id, update_data):
        log.debug(f"scene {scene_id}: update is PlexSync's own Plex link in the scene's URLs, skipped")
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
