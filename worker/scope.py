"""Scope gates: which scenes PlexSync syncs at all (each gate a setting, all off by default).

A scene outside the scope is not synced and its Plex item is left exactly as it is; the worker logs one
debug line with the reason. A scene that enters the scope (marked Organized, given a StashID or a chosen
tag) is synced by that save: the hook lets the gate's input field through (`gate_input_fields`).
Standard library only: the hook imports this module.
"""
from __future__ import annotations

TYPE_CHECKING = False  # the hook path avoids importing typing (bench/hook_latency.py)
if TYPE_CHECKING:
    from typing import Any, Mapping

from validation.tag_filter import folded


def gate_input_fields(settings: Any) -> frozenset[str]:
    """SceneUpdateInput keys beyond the synced fields whose change matters under these settings: the scope
    gates' fields, and `organized` for the "Organized" collection. Without settings, all of them (recording
    an update we cannot judge loses nothing)."""
    if settings is None:
        return frozenset({"organized", "stash_ids"})
    fields: set[str] = set()
    if getattr(settings, "only_organized", False) or getattr(settings, "collection_organized", False):
        fields.add("organized")
    if getattr(settings, "only_with_stash_id", False):
        fields.add("stash_ids")
    return frozenset(fields)  # tag gates ride on tag_ids, which is always a synced field


def out_of_scope_reason(scene: Mapping[str, Any], settings: Any) -> str | None:
    """None when the scene is in scope, else why it is not (for the debug line)."""
    if getattr(settings, "only_organized", False) and not scene.get("organized"):
        return "not organized (setting only_organized)"
    if getattr(settings, "only_with_stash_id", False):
        ids = scene.get("stash_ids")
        if not (isinstance(ids, list) and any(isinstance(s, dict) and s.get("stash_id") for s in ids)):
            return "no StashID (setting only_with_stash_id)"
    tags = scene.get("tags") if isinstance(scene.get("tags"), list) else []
    names = {str(t.get("name") or "").casefold() for t in tags if isinstance(t, dict)}
    required = folded(getattr(settings, "only_with_tags", ()) or ())
    if required and not names & required:
        return "has none of the tags in setting only_with_tags"
    refused = folded(getattr(settings, "skip_scenes_with_tags", ()) or ())
    hit = names & refused
    if hit:
        name = next(str(t.get("name")) for t in tags if isinstance(t, dict)
                    and str(t.get("name") or "").casefold() in hit)
        return f"has the tag {name!r} (setting skip_scenes_with_tags)"
    return None
