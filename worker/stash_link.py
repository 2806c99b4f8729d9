"""A link both ways: the Plex item's address written into the scene's URLs in Stash (opt-in), and the
scene's Stash address for the Plex summary footer (opt-in).

The URL write is a Stash mutation from the worker, so it fires Stash's scene hook once. It must not start
a sync loop: it is sent as bulkSceneUpdate with `urls: {mode: ADD}` (only our link is added, atomically, so
a URL the user saves at the same moment is never lost, and none of the user's URLs is ever removed), and the
hook recognises exactly that input (hooks/own_writes.py) and records nothing: zero Plex requests. Should the
hook still record the scene (e.g. settings unreadable), the sync state's hash already holds the new URL list,
so the worker finds the scene unchanged and sends Plex nothing.
"""
from __future__ import annotations

from typing import Any, Mapping

from plex.pin import item_url, parse_plex_item_url
from worker.stash_gql import stash_call

ADD_URL = ("mutation PlexSyncLink($input: BulkSceneUpdateInput!) "
           "{ bulkSceneUpdate(input: $input) { id urls } }")


def has_link(urls: Any, machine_identifier: str, rating_key: int) -> bool:
    """The scene already carries an address of this Plex item (ours or the user's own pin)."""
    return any(isinstance(u, str) and parse_plex_item_url(u, machine_identifier) == int(rating_key)
               for u in (urls if isinstance(urls, list) else ()))


def planned_link(scene: Mapping[str, Any], machine_identifier: str, rating_key: int) -> str | None:
    """The Plex Web address to add to the scene's URLs, or None when it already holds one for the item."""
    if not machine_identifier or has_link(scene.get("urls"), machine_identifier, rating_key):
        return None
    return item_url(machine_identifier, rating_key)


def urls_after(scene: Mapping[str, Any], link: str) -> list[str]:
    """The scene's URLs once the link is added (what the sync state's hash is computed over)."""
    return [u for u in (scene.get("urls") or ()) if isinstance(u, str)] + [link]


def add_link(stash: Any, scene_id: int, link: str) -> None:
    """One bulkSceneUpdate adding `link` to the scene's URLs (mode ADD: nothing of the user's is removed)."""
    stash_call(stash, ADD_URL, {"input": {"ids": [str(scene_id)], "urls": {"values": [link], "mode": "ADD"}}})
