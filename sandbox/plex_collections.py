"""Collections in the simulated Plex, kept as real PMS keeps them (plexapi collection.py, library.py).

Facts modelled (what plexapi sends and reads):
- A collection is its own metadata object (type 18, `<Directory type="collection">`) with its own ratingKey,
  title, titleSort, summary, poster, art, field locks and prefs (`collectionSort` 0 release, 1 alpha,
  2 custom; `collectionMode`). Listed by `GET /library/sections/{id}/all?type=18` (plexapi
  `section.collections()`) and `/library/sections/{id}/collections`.
- Membership is the items' `collection` tags: `collection[0].tag.tag=Name` on an item creates the
  collection in the item's section when no collection has that title; removing the tag from the last item
  leaves an empty collection (childCount 0): PMS does not delete it (tools such as Maintainerr delete empty
  Plex collections themselves).
- A collection's own edit is `PUT /library/sections/{id}/all?type=18&id={rk}&title.value=..&title.locked=1`
  (plexapi `Collection._edit` through its section); a new title renames the tag on every member.
- `PUT /library/metadata/{rk}/prefs?collectionSort=2`, `PUT /library/metadata/{rk}/items/{item}/move[?after=]`,
  `GET /library/metadata/{rk}/children` (members in the collection's order),
  `DELETE /library/metadata/{rk}` (the collection goes; its members lose the tag),
  `POST /library/metadata/{rk}/posters` and `/arts` (bytes in the body) as for movies.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable

COLLECTION_TYPE = "18"  # plexapi SEARCHTYPES['collection']
SORT_VALUES = {"0", "1", "2"}   # release, alpha, custom
MODE_VALUES = {"-1", "0", "1", "2"}


class Collection:
    __slots__ = ("rating_key", "section_key", "title", "title_sort", "summary", "locked", "collection_sort",
                 "collection_mode", "order", "posters", "selected_poster", "thumb_ts", "arts", "selected_art",
                 "art_ts", "added_at", "updated_at", "guid")

    def __init__(self, rating_key: int, section_key: int, title: str, now: int) -> None:
        self.rating_key = rating_key
        self.section_key = section_key
        self.title = title
        self.title_sort: str | None = None
        self.summary = ""
        self.locked: set[str] = set()
        self.collection_sort = 0
        self.collection_mode = -1
        self.order: list[int] = []  # custom order (member rating keys, in the order they joined / were moved)
        self.posters: list[str] = []
        self.selected_poster: str | None = None
        self.thumb_ts: int | None = None
        self.arts: list[str] = []
        self.selected_art: str | None = None
        self.art_ts: int | None = None
        self.added_at = now
        self.updated_at = now
        self.guid = "collection://" + hashlib.sha1(f"{section_key}:{rating_key}".encode()).hexdigest()[:32]

    def bump(self, now: int) -> None:
        self.updated_at = max(now, self.updated_at + 1)


class CollectionStore:
    """The collections of a LibraryStore; every method runs under the store's lock (the caller holds it)."""

    def __init__(self, library: Any) -> None:
        self.library = library
        self.by_key: dict[int, Collection] = {}
        self._by_title: dict[tuple[int, str], int] = {}

    # ---- membership ----------------------------------------------------------------------------
    def find(self, section_key: int, title: str) -> Collection | None:
        rk = self._by_title.get((section_key, title))
        return self.by_key.get(rk) if rk is not None else None

    def members(self, coll: Collection) -> list[int]:
        """Member rating keys in the collection's order (collectionSort 0 release, 1 alpha, 2 custom)."""
        items = self.library.items
        kind = self.library.collection_kind
        section = self.library.sections[coll.section_key]
        member_set = {rk for rk in section.item_keys if coll.title in items[rk].tags(kind)}
        if coll.collection_sort == 2:
            ordered = [rk for rk in coll.order if rk in member_set]
            seen = set(ordered)
            return ordered + [rk for rk in section.item_keys if rk in member_set and rk not in seen]
        keys = [rk for rk in section.item_keys if rk in member_set]
        if coll.collection_sort == 1:
            return sorted(keys, key=lambda rk: (items[rk].title_sort or items[rk].title).casefold())
        return sorted(keys, key=lambda rk: (items[rk].originally_available_at or "", rk))

    def item_tags_changed(self, item: Any, before: Iterable[str]) -> None:
        """An item's collection tags changed: new names create collections; joiners go to the end."""
        old = set(before)
        for name in item.tags(self.library.collection_kind):
            coll = self.find(item.section_key, name)
            if coll is None:
                coll = self._create(item.section_key, name)
            if name not in old:
                if item.rating_key in coll.order:
                    coll.order.remove(item.rating_key)
                coll.order.append(item.rating_key)
                coll.bump(self.library.now())

    def _create(self, section_key: int, title: str) -> Collection:
        rk = self.library.new_rating_key()
        coll = Collection(rk, section_key, title, self.library.now())
        self.by_key[rk] = coll
        self._by_title[(section_key, title)] = rk
        return coll

    def create_empty(self, section_key: int, title: str) -> int:
        """A collection made by hand in Plex Web (no items yet)."""
        self.library.section(section_key)
        return self._create(section_key, title).rating_key

    # ---- the collection's own edits --------------------------------------------------------------
    def get(self, rating_key: int) -> Collection:
        from sandbox.plex import HttpError  # noqa: PLC0415 - the one error type of the simulated PMS
        coll = self.by_key.get(rating_key)
        if coll is None:
            raise HttpError(404, f"no collection {rating_key}")
        return coll

    def apply_edit(self, section_key: int, ids: list[int] | None, values: dict[str, Any],
                   locks: dict[str, bool]) -> int:
        from sandbox.plex import HttpError  # noqa: PLC0415
        if not ids:
            raise HttpError(400, "id is required to edit collections")
        targets = []
        for rk in ids:
            coll = self.by_key.get(rk)
            if coll is None or coll.section_key != section_key:
                raise HttpError(404, f"no collection {rk} in section {section_key}")
            targets.append(coll)
        for coll in targets:
            if "title" in values and values["title"] and values["title"] != coll.title:
                self._rename(coll, values["title"])
            if "titleSort" in values:
                coll.title_sort = values["titleSort"]
            if "summary" in values:
                coll.summary = values["summary"] or ""
            for name, on in locks.items():
                (coll.locked.add if on else coll.locked.discard)(name)
            coll.bump(self.library.now())
        return len(targets)

    def _rename(self, coll: Collection, title: str) -> None:
        kind = self.library.collection_kind
        items = self.library.items
        for rk in self.library.sections[coll.section_key].item_keys:
            names = items[rk].tags(kind)
            if coll.title in names:
                items[rk].set_tags(kind, [title if n == coll.title else n for n in names])
                items[rk].bump()
        del self._by_title[(coll.section_key, coll.title)]
        coll.title = title
        self._by_title[(coll.section_key, title)] = coll.rating_key

    def set_prefs(self, rating_key: int, prefs: dict[str, str]) -> None:
        from sandbox.plex import HttpError  # noqa: PLC0415
        coll = self.get(rating_key)
        for name, value in prefs.items():
            if name == "collectionSort":
                if value not in SORT_VALUES:
                    raise HttpError(400, f"bad collectionSort {value!r}")
                coll.collection_sort = int(value)
            elif name == "collectionMode":
                if value not in MODE_VALUES:
                    raise HttpError(400, f"bad collectionMode {value!r}")
                coll.collection_mode = int(value)
        coll.bump(self.library.now())

    def move(self, rating_key: int, item_key: int, after: int | None) -> None:
        from sandbox.plex import HttpError  # noqa: PLC0415
        coll = self.get(rating_key)
        members = self.members(coll) if coll.collection_sort == 2 else self._custom_members(coll)
        if item_key not in members or (after is not None and after not in members):
            raise HttpError(400, "item is not in the collection")
        members.remove(item_key)
        members.insert(0 if after is None else members.index(after) + 1, item_key)
        coll.order = members
        coll.bump(self.library.now())

    def _custom_members(self, coll: Collection) -> list[int]:
        saved, coll.collection_sort = coll.collection_sort, 2
        try:
            return self.members(coll)
        finally:
            coll.collection_sort = saved

    def delete(self, rating_key: int) -> None:
        coll = self.get(rating_key)
        kind = self.library.collection_kind
        items = self.library.items
        for rk in self.library.sections[coll.section_key].item_keys:
            names = items[rk].tags(kind)
            if coll.title in names:
                items[rk].set_tags(kind, [n for n in names if n != coll.title])
                items[rk].bump()
        del self.by_key[rating_key]
        self._by_title.pop((coll.section_key, coll.title), None)

    def upload(self, rating_key: int, what: str, key: str) -> None:
        coll = self.get(rating_key)
        now = self.library.now()
        if what == "poster":
            coll.posters = [p for p in coll.posters if p != key] + [key]
            coll.selected_poster = key
            coll.bump(now)
            coll.thumb_ts = coll.updated_at
            coll.locked.add("thumb")
        else:
            coll.arts = [a for a in coll.arts if a != key] + [key]
            coll.selected_art = key
            coll.bump(now)
            coll.art_ts = coll.updated_at
            coll.locked.add("art")

    def remove_section_item(self, rating_key: int) -> None:
        for coll in self.by_key.values():
            if rating_key in coll.order:
                coll.order.remove(rating_key)

    # ---- views -----------------------------------------------------------------------------------
    def in_section(self, section_key: int) -> list[Collection]:
        return sorted((c for c in self.by_key.values() if c.section_key == section_key),
                      key=lambda c: ((c.title_sort or c.title).casefold(), c.rating_key))

    def snapshot(self, coll: Collection) -> dict[str, Any]:
        return {"rating_key": coll.rating_key, "section_key": coll.section_key, "title": coll.title,
                "title_sort": coll.title_sort, "summary": coll.summary, "locked": set(coll.locked),
                "collection_sort": coll.collection_sort, "items": self.members(coll),
                "poster": coll.selected_poster, "posters": list(coll.posters), "art": coll.selected_art,
                "arts": list(coll.arts)}
