"""Tag parents read from Stash, for exclusion by parent tag (validation/tag_filter.py).

The scene query brings each tag's direct parents; ancestors further up are read with `findTag` the first
time they are needed and remembered for the rest of the drain, so a deep hierarchy costs one query per
tag per drain, and a drain whose settings exclude no parent tag makes none.
"""
from __future__ import annotations

from typing import Any, Callable

PARENTS_QUERY = "query PlexSyncTagParents($id: ID!) { findTag(id: $id) { id parents { id name } } }"


class TagTree:
    def __init__(self, query: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self._query = query  # GraphQL call -> data (worker: stash_gql.stash_call; tasks: StashClient.execute)
        self._parents: dict[str, list[tuple[str, str]]] = {}

    def learn(self, tags: Any) -> None:
        """Remember the direct parents the scene query brought (fresh for this scene's own tags)."""
        for tag in tags if isinstance(tags, list) else ():
            if isinstance(tag, dict) and tag.get("id") is not None and isinstance(tag.get("parents"), list):
                self._parents[str(tag["id"])] = [(str(p["id"]), str(p.get("name") or ""))
                                                 for p in tag["parents"] if isinstance(p, dict) and p.get("id")]

    def parents_of(self, tag_id: str) -> list[tuple[str, str]]:
        if tag_id not in self._parents:
            found = self._query(PARENTS_QUERY, {"id": tag_id}).get("findTag") or {}
            self._parents[tag_id] = [(str(p["id"]), str(p.get("name") or ""))
                                     for p in found.get("parents") or () if isinstance(p, dict) and p.get("id")]
        return self._parents[tag_id]
