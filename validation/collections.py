"""Stash scene -> the Plex collections PlexSync wants it in (pure; no I/O).

Each wanted collection has a stable source key ('studio:12', 'group:3', ...) so a rename in Stash is seen as
the same collection under a new name, not as a new collection. Sources, each its own setting:
studio, every parent studio above it, groups (ordered by scene_index), performers with at least N scenes,
chosen tags, and "Organized". An optional prefix per source is joined with one space ("Studio:" ->
"Studio: Blue Harbor"); Stash's settings form trims trailing spaces, so the space is added here.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

from validation.metadata import _clean, _list

DEFAULT_PERFORMER_MIN_SCENES = 3   # a performer needs this many scenes for a collection (0 in settings)
ORGANIZED_NAME = "Organized"
PARENT_DEPTH = 5                   # parent studios read per scene (the GraphQL fragment nests this deep)


@dataclass(frozen=True)
class WantedCollection:
    source: str                  # 'studio:12', 'group:3', 'performer:7', 'tag:5', 'organized'
    name: str                    # title in Plex, prefix included
    summary: str | None = None   # managed summary (studio details, group synopsis); None: left alone
    image_url: str | None = None # Stash image to use as the collection poster; None: none
    ordered: bool = False        # group: items in scene_index order
    index: int | None = None     # this scene's scene_index in the group


def _named(prefix: str, name: str) -> str:
    prefix = prefix.strip()
    return _clean(f"{prefix} {name}" if prefix else name, True)


def _image(url: Any) -> str | None:
    """Stash adds default=true when the object has no image of its own: that is no image for Plex."""
    if not isinstance(url, str) or not url or "default=true" in url:
        return None
    return url


def chosen_tags(settings: Any) -> set[str]:
    raw = getattr(settings, "collections_from_tags", "") or ""
    return {t.strip().casefold() for t in str(raw).split(",") if t.strip()}


def performer_min_scenes(settings: Any) -> int:
    return int(getattr(settings, "collection_performer_min_scenes", 0) or 0) or DEFAULT_PERFORMER_MIN_SCENES


def enabled(settings: Any) -> bool:
    return any(bool(getattr(settings, name, False)) for name in (
        "collections_from_studio", "collections_from_parent_studios", "collections_from_groups",
        "collections_from_performers", "collections_from_tags", "collection_organized"))


def wanted_collections(scene: Mapping[str, Any], settings: Any) -> list[WantedCollection]:
    """The collections this scene belongs in, in a stable order, one per name."""
    out: list[WantedCollection] = []
    studio = scene.get("studio") if isinstance(scene.get("studio"), dict) else None
    studio_prefix = str(getattr(settings, "collection_prefix_studio", "") or "")
    if studio and getattr(settings, "collections_from_studio", False):
        out.append(_studio(studio, studio_prefix))
    if studio and getattr(settings, "collections_from_parent_studios", False):
        parent, seen = studio.get("parent_studio"), {str(studio.get("id"))}
        while isinstance(parent, dict) and str(parent.get("id")) not in seen:
            seen.add(str(parent.get("id")))
            out.append(_studio(parent, studio_prefix))
            parent = parent.get("parent_studio")
    if getattr(settings, "collections_from_groups", False):
        prefix = str(getattr(settings, "collection_prefix_group", "") or "")
        for entry in _list(scene.get("groups")):
            group = entry.get("group") if isinstance(entry, dict) else None
            if isinstance(group, dict) and group.get("name"):
                index = entry.get("scene_index")
                out.append(WantedCollection(
                    f"group:{group.get('id')}", _named(prefix, group["name"]),
                    _clean(group.get("synopsis"), False), _image(group.get("front_image_path")), True,
                    index if isinstance(index, int) and not isinstance(index, bool) else None))
    if getattr(settings, "collections_from_performers", False):
        prefix = str(getattr(settings, "collection_prefix_performer", "") or "")
        least = performer_min_scenes(settings)
        for performer in _list(scene.get("performers")):
            if isinstance(performer, dict) and performer.get("name"):
                count = performer.get("scene_count")
                if isinstance(count, int) and count >= least:
                    out.append(WantedCollection(f"performer:{performer.get('id')}",
                                                _named(prefix, performer["name"])))
    wanted_tags = chosen_tags(settings)
    if wanted_tags:
        prefix = str(getattr(settings, "collection_prefix_tag", "") or "")
        for tag in _list(scene.get("tags")):
            if isinstance(tag, dict) and str(tag.get("name") or "").strip().casefold() in wanted_tags:
                out.append(WantedCollection(f"tag:{tag.get('id')}", _named(prefix, tag["name"])))
    if getattr(settings, "collection_organized", False) and scene.get("organized") is True:
        out.append(WantedCollection("organized", ORGANIZED_NAME))
    unique: dict[str, WantedCollection] = {}
    for wanted in out:
        if wanted.name.strip() and wanted.name not in unique:
            unique[wanted.name] = wanted
    return list(unique.values())


def _studio(studio: Mapping[str, Any], prefix: str) -> WantedCollection:
    return WantedCollection(f"studio:{studio.get('id')}", _named(prefix, str(studio.get("name") or "")),
                            _clean(studio.get("details"), False), _image(studio.get("image_path")))


def collections_hash(wanted: list[WantedCollection]) -> str:
    """What about the collections (beyond their names) decides a re-sync: text, image, order index."""
    payload = [[w.source, w.name, w.summary, w.image_url, w.index] for w in wanted]
    return hashlib.sha1(json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()
