"""Plex requests on collections, each exactly what plexapi sends (checked in plexapi collection.py,
library.py, mixins.py, base.py; see README "Collections").

- list:   GET /library/sections/{id}/all?type=18        (LibrarySection.collections() -> search(libtype=
          'collection')); paged by plexapi with X-Plex-Container-Start/Size.
- edit:   PUT /library/sections/{id}/all?type=18&id={rk}&title.value=..&title.locked=1 (Collection.editTitle /
          editSummary: EditFieldMixin -> Collection._edit -> LibrarySection._edit). Renaming the collection
          renames the tag on every member in the same request: one edit, same ratingKey.
- prefs:  PUT /library/metadata/{rk}/prefs?collectionSort=2 (Collection.sortUpdate('custom') ->
          editAdvanced; plexapi first GETs ?includePreferences=1 to validate the value, which is known here).
- order:  GET /library/metadata/{rk}/children; PUT /library/metadata/{rk}/items/{item}/move[?after={rk2}]
          (Collection.moveItem; no `after` moves to the front).
- poster: POST /library/metadata/{rk}/posters with the bytes (uploadPoster(filepath=bytes)).
- delete: DELETE /library/metadata/{rk} (Collection.delete).
- remove one item: PUT /library/sections/{id}/all?type=1&id={item}&collection[].tag.tag-={name} (the
          removeCollection form, built here so no cached tag list is resent).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from plexapi import utils

COLLECTION_TYPE = 18  # plexapi utils.SEARCHTYPES['collection']
CUSTOM_SORT = 2       # Collection.sortUpdate: release 0, alpha 1, custom 2


@dataclass(frozen=True)
class PlexCollection:
    rating_key: int
    title: str
    summary: str
    child_count: int
    collection_sort: int
    smart: bool


def _put(plex: Any, path: str) -> None:
    plex.query(path, method=plex._session.put)


def list_collections(plex: Any, section_id: int) -> dict[str, PlexCollection]:
    """Every collection of the section, by title (the first of equal titles wins)."""
    out: dict[str, PlexCollection] = {}
    for coll in plex.fetchItems(f"/library/sections/{int(section_id)}/all?type={COLLECTION_TYPE}"):
        if getattr(coll, "TYPE", None) != "collection" or coll.title is None:
            continue
        out.setdefault(coll.title, PlexCollection(int(coll.ratingKey), coll.title, coll.summary or "",
                                                  int(coll.childCount or 0), int(coll.collectionSort or 0),
                                                  bool(coll.smart)))
    return out


def edit_collection(plex: Any, section_id: int, rating_key: int, **values: str) -> None:
    """One PUT setting and locking title / titleSort / summary of a collection."""
    args: dict[str, Any] = {}
    for name, value in values.items():
        args[f"{name}.value"] = value
        args[f"{name}.locked"] = 1
    args["id"] = int(rating_key)
    args["type"] = COLLECTION_TYPE
    _put(plex, f"/library/sections/{int(section_id)}/all{utils.joinArgs(args)}")


def set_custom_sort(plex: Any, rating_key: int) -> None:
    _put(plex, f"/library/metadata/{int(rating_key)}/prefs?collectionSort={CUSTOM_SORT}")


def children(plex: Any, rating_key: int) -> list[int]:
    return [int(item.ratingKey) for item in plex.fetchItems(f"/library/metadata/{int(rating_key)}/children")]


def move_item(plex: Any, rating_key: int, item_key: int, after: int | None) -> None:
    suffix = f"?after={int(after)}" if after is not None else ""
    _put(plex, f"/library/metadata/{int(rating_key)}/items/{int(item_key)}/move{suffix}")


def upload_poster(plex: Any, rating_key: int, data: bytes) -> None:
    plex.query(f"/library/metadata/{int(rating_key)}/posters", method=plex._session.post, data=bytes(data))


def delete_collection(plex: Any, rating_key: int) -> None:
    plex.query(f"/library/metadata/{int(rating_key)}", method=plex._session.delete)


def remove_from_item(plex: Any, section_id: int, item_key: int, name: str) -> None:
    """Take one collection tag off one item (the item's other collections are not resent)."""
    args = {"type": 1, "id": int(item_key), "collection[].tag.tag-": quote(name), "collection.locked": 1}
    _put(plex, f"/library/sections/{int(section_id)}/all{utils.joinArgs(args)}")


def moves_for(current: list[int], wanted: list[int]) -> list[tuple[int, int | None]]:
    """The (item, after) moves that turn `current` into `wanted` first, then whatever else is in it.
    Only out-of-place items move, so an already ordered collection costs nothing."""
    order = list(current)
    moves: list[tuple[int, int | None]] = []
    target = [rk for rk in wanted if rk in set(order)]
    for i, rk in enumerate(target):
        if order[i] == rk:
            continue
        after = target[i - 1] if i else None
        order.remove(rk)
        order.insert(i, rk)
        moves.append((rk, after))
    return moves
