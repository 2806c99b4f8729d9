"""What PlexSync writes to Plex for a scene under the current settings, beyond the plain field mapping:
tags excluded by name or parent tag, the Stash link in the summary footer, and the scope gates.

One object per drain (or per Sync all run), shared by the worker and the Sync all task so that "unchanged"
means the same thing in both. It remembers tag parents for its lifetime (worker/tag_tree.py).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from validation.metadata import PlexFields, desired_plex_fields
from validation.tag_filter import folded, kept_tags
from worker.scope import out_of_scope_reason
from worker.tag_tree import TagTree


class SceneView:
    def __init__(self, settings: Any, query: Callable[[str, dict[str, Any]], dict[str, Any]],
                 graphql_url: str) -> None:
        self.settings = settings
        self._names = folded(getattr(settings, "exclude_tags", ()) or ())
        self._under = folded(getattr(settings, "exclude_tags_under", ()) or ())
        self._tree = TagTree(query) if self._under else None
        base = getattr(settings, "stash_url", "") or graphql_url.rsplit("/graphql", 1)[0]
        self.stash_base_url = base.rstrip("/")

    def scene_url(self, scene_id: Any) -> str:
        return f"{self.stash_base_url}/scenes/{scene_id}"

    def out_of_scope(self, scene: Mapping[str, Any]) -> str | None:
        return out_of_scope_reason(scene, self.settings)

    def prepare(self, scene: Mapping[str, Any]) -> None:
        """Read from Stash what `desired` will need (tag ancestors), so a Stash failure happens here,
        where the worker treats it as a Stash error (retried, never a dead letter)."""
        if self._tree is not None:
            self._tree.learn(scene.get("tags"))
            kept_tags(scene.get("tags"), self._names, self._under, self._tree.parents_of)

    def desired(self, scene: Mapping[str, Any]) -> PlexFields:
        if self._names or self._under:
            parents_of = None
            if self._tree is not None:
                self._tree.learn(scene.get("tags"))
                parents_of = self._tree.parents_of
            scene = dict(scene, tags=kept_tags(scene.get("tags"), self._names, self._under, parents_of))
        url = self.scene_url(scene.get("id")) if getattr(self.settings, "stash_link_in_summary", False) else None
        return desired_plex_fields(scene, self.settings, url)
