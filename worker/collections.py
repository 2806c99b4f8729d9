"""Managed Plex collections in the worker: exact membership in the item's own edit, then a flush that
brings each touched collection's text, poster and order in line (README "Collections").

Per scene (inside the sync of one scene, before its batched PUT):
- a renamed Stash studio/group/performer/tag renames its managed collection: one collection edit, the same
  collection ratingKey afterwards (Plex renames the tag on every member);
- the item's collection tags become: its hand-made collections (never touched) + the managed collections
  Stash wants. A wanted name already taken by a hand-made collection is not used (that collection is not
  PlexSync's to change). Membership rides in the item's one PUT: no extra request.
Once the worker has no job left (flush): one listing per section with touched collections; empty managed
collections are deleted; studio/group text and poster are sent when they changed (hash); group
collections get custom order by scene_index. A scene edit that changes nothing about collections marks
nothing, so it costs no request here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from plex import collections as plex_coll
from plex.writer import current_tags
from queue import collections as managed
from queue.database import get_state, transaction
from queue.operations import get_record, synced_rating_keys
from stash import log
from validation.collections import WantedCollection, collections_hash, wanted_collections
from validation.metadata import PlexFields
from worker.stash_reader import fetch_image

GROUP_SCENES_QUERY = ("query PlexSyncGroupOrder($sf: SceneFilterType, $f: FindFilterType) "
                      "{ findScenes(scene_filter: $sf, filter: $f) { scenes { id groups { scene_index "
                      "group { id } } } } }")


@dataclass
class Membership:
    """What one scene's item edit does to collections."""
    section_id: int
    final: list[str]                       # the item's complete collection list after the edit
    wanted: list[WantedCollection]         # managed collections it belongs in (hand-made clashes removed)
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FlushReport:
    created: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    posters: list[str] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    reordered: list[str] = field(default_factory=list)
    requests: int = 0

    def describe(self) -> str:
        parts = [f"{label} {len(names)} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
                 for label, names in (("new", self.created), ("removed (empty)", self.removed),
                                      ("posters", self.posters), ("summaries", self.summaries),
                                      ("reordered", self.reordered)) if names]
        return "; ".join(parts) if parts else "no change"


class CollectionSync:
    """One per worker: knows the managed table and caches each section's collection listing for a drain."""

    def __init__(self, conn: sqlite3.Connection, settings: Any, stash: Any) -> None:
        self.conn = conn
        self.settings = settings
        self.stash = stash
        self._listings: dict[int, dict[str, plex_coll.PlexCollection]] = {}
        self._warned: set[tuple[int, str]] = set()
        # (section, old name) -> new name of collections renamed in this drain: an item copy read before
        # the rename (the worker reads a batch's items ahead) still carries the old name.
        self._renamed: dict[tuple[int, str], str] = {}
        self._legacy = get_state(conn, "collections_legacy") == "1"
        self._made_before: dict[tuple[int, str], bool] = {}  # see _made_by_earlier_version

    # ----- per scene, before the item edit -----
    def _listing(self, plex: Any, section_id: int) -> dict[str, plex_coll.PlexCollection]:
        if section_id not in self._listings:
            self._listings[section_id] = plex_coll.list_collections(plex, section_id)
        return self._listings[section_id]

    def plan(self, plex: Any, item: Any, section_id: int, scene: dict[str, Any], dry_run: bool) -> Membership:
        """Rename what Stash renamed (unless dry run) and work out the item's exact collection list."""
        wanted = wanted_collections(scene, self.settings)
        rows = {row.source: row for row in managed.in_section(self.conn, section_id)}
        have = [self._renamed.get((section_id, n), n) for n in current_tags(item, "collection")]
        membership = Membership(section_id, [], [])
        for w in wanted:
            row = rows.get(w.source)
            if row is not None and row.name != w.name:
                self._rename(plex, section_id, row, w.name, dry_run)
                membership.renamed.append((row.name, w.name))
                have = [w.name if n == row.name else n for n in have]
                rows[w.source] = dataclasses.replace(row, name=w.name)
        managed_names = {row.name for row in rows.values()}
        kept: list[WantedCollection] = []
        for w in wanted:
            # made by an earlier PlexSync: record() adopts it
            adopt = self._legacy and (w.name in have or self._made_by_earlier_version(plex, section_id, w.name))
            if (not adopt and w.source not in rows and w.name not in managed_names
                    and w.name in self._listing(plex, section_id)):
                if (section_id, w.name) not in self._warned:
                    self._warned.add((section_id, w.name))
                    log.warning(f"collection '{w.name}' exists in Plex and was not made by PlexSync: left "
                                f"alone (set a collection prefix to keep PlexSync's collections apart)")
                continue
            kept.append(w)
        names = [w.name for w in kept]
        membership.wanted = kept
        membership.final = [n for n in have if n not in managed_names or n in names] + \
                           [n for n in names if n not in have]
        membership.joined = [n for n in names if n not in have]
        membership.left = [n for n in have if n in managed_names and n not in names]
        return membership

    def _made_by_earlier_version(self, plex: Any, section_id: int, name: str) -> bool:
        """Upgraded install: a same-named collection holding an item PlexSync synced is the earlier
        version's (it tagged every synced scene of the studio). Asked of the collection itself, once per
        drain, so a scene that is not in it yet joins whether or not a member was synced before it (with
        several edits in flight, the order is not fixed)."""
        key = (section_id, name)
        if key not in self._made_before:
            found = self._listing(plex, section_id).get(name)
            members = plex_coll.children(plex, found.rating_key) if found is not None else []
            synced = synced_rating_keys(self.conn, section_id)
            self._made_before[key] = any(rk in synced for rk in members)
        return self._made_before[key]

    def _rename(self, plex: Any, section_id: int, row: managed.ManagedCollection, name: str, dry_run: bool) -> None:
        if dry_run:
            log.info(f"dry run: collection '{row.name}' would be renamed to '{name}'")
            return
        rating_key = row.rating_key
        listing = self._listing(plex, section_id)
        if rating_key is None and row.name in listing:
            rating_key = listing[row.name].rating_key
        if rating_key is not None:
            plex_coll.edit_collection(plex, section_id, rating_key, title=name)
            if row.name in listing:
                listing[name] = listing.pop(row.name)
            log.info(f"collection '{row.name}' renamed to '{name}' (Plex collection {rating_key})")
        with transaction(self.conn):
            managed.rename(self.conn, section_id, row.source, name)
        self._renamed[(section_id, row.name)] = name

    @staticmethod
    def apply_to(desired: PlexFields, membership: Membership) -> PlexFields:
        """The desired fields with the item's complete collection list (hand-made ones kept)."""
        values = dict(desired.values)
        values["collection"] = tuple(membership.final)
        return PlexFields(values, desired.preserve_plex_edits, desired.extras)

    # ----- per scene, after the item edit -----
    def record(self, scene_id: int, membership: Membership) -> None:
        """Remember the managed collections this scene wants; mark what the flush must check. Nothing is
        marked when the scene's collection state did not change (no request later)."""
        state = collections_hash(membership.wanted)
        changed = managed.scene_hash(self.conn, scene_id) != state
        check = set(membership.joined) | set(membership.left)
        with transaction(self.conn):
            for w in membership.wanted:
                managed.upsert_wanted(self.conn, membership.section_id, w.source, w.name, w.summary, w.image_url,
                                      w.ordered, mark_dirty=changed or w.name in check)
            managed.mark_dirty(self.conn, membership.section_id, membership.left)
            managed.set_scene_hash(self.conn, scene_id, state)

    def manages_any(self) -> bool:
        """PlexSync has collections in Plex: with every source switched off they must still be emptied."""
        return managed.exists(self.conn)

    # ----- flush: once the worker has no job left -----
    def has_work(self) -> bool:
        return bool(managed.dirty_rows(self.conn))

    def flush(self, plex: Any, dry_run: bool = False) -> FlushReport:
        report = FlushReport()
        by_section: dict[int, list[managed.ManagedCollection]] = defaultdict(list)
        for row in managed.dirty_rows(self.conn):
            by_section[row.section_id].append(row)
        for section_id, rows in by_section.items():
            listing = plex_coll.list_collections(plex, section_id)
            report.requests += 1
            self._listings[section_id] = listing
            for row in rows:
                self._flush_one(plex, section_id, row, listing.get(row.name), report, dry_run)
        if report.created or report.removed or report.posters or report.summaries or report.reordered:
            log.info(f"{'dry run: ' if dry_run else ''}collections: {report.describe()}")
        return report

    def _flush_one(self, plex: Any, section_id: int, row: managed.ManagedCollection,
                   found: plex_coll.PlexCollection | None, report: FlushReport, dry_run: bool) -> None:
        if found is None or found.child_count == 0:
            if found is not None:
                report.removed.append(row.name)
                if not dry_run:
                    plex_coll.delete_collection(plex, found.rating_key)
                    report.requests += 1
            if not dry_run:
                with transaction(self.conn):
                    managed.forget(self.conn, section_id, row.source)
                self._listings.get(section_id, {}).pop(row.name, None)
            return
        rk = found.rating_key
        fresh = rk != row.rating_key
        if fresh and row.rating_key is None:
            report.created.append(row.name)
        applied = json.loads(row.applied or "{}") if not fresh else {}
        if row.summary is not None and row.summary != found.summary:
            report.summaries.append(row.name)
            if not dry_run:
                plex_coll.edit_collection(plex, section_id, rk, summary=row.summary)
                report.requests += 1
        if row.image_url and applied.get("url") != row.image_url:
            data = fetch_image(self.stash, row.image_url,
                               (self.settings.connect_timeout, self.settings.read_timeout))
            digest = hashlib.sha1(data).hexdigest() if data else None
            if data and digest != applied.get("image"):
                report.posters.append(row.name)
                if not dry_run:
                    plex_coll.upload_poster(plex, rk, data)
                    report.requests += 1
            applied = {"url": row.image_url, "image": digest}
        order_hash = row.order_hash if not fresh else None
        if row.ordered:
            order = self._group_order(section_id, row.source)
            new_hash = hashlib.sha1(json.dumps(order).encode()).hexdigest()
            if found.collection_sort != plex_coll.CUSTOM_SORT or new_hash != order_hash:
                if not dry_run:
                    if found.collection_sort != plex_coll.CUSTOM_SORT:
                        plex_coll.set_custom_sort(plex, rk)
                        report.requests += 1
                    moves = plex_coll.moves_for(plex_coll.children(plex, rk), order)
                    report.requests += 1 + len(moves)
                    for item_key, after in moves:
                        plex_coll.move_item(plex, rk, item_key, after)
                    if moves:
                        report.reordered.append(row.name)
            order_hash = new_hash
        if not dry_run:
            with transaction(self.conn):
                managed.record_applied(self.conn, section_id, row.source, rating_key=rk,
                                       applied=json.dumps(applied) if applied else None, order_hash=order_hash)

    def _group_order(self, section_id: int, source: str) -> list[int]:
        """The group's items in Plex, by the scenes' scene_index in the group (unindexed last, by scene id)."""
        group_id = source.split(":", 1)[1]
        response = self.stash.s.post(self.stash.url, json={"query": GROUP_SCENES_QUERY, "variables": {
            "sf": {"groups": {"value": [group_id], "modifier": "INCLUDES"}}, "f": {"per_page": -1}}})
        response.raise_for_status()
        payload = response.json()
        if payload.get("errors"):
            raise RuntimeError(f"Stash: {str(payload['errors'][0].get('message'))[:200]}")
        ranked: list[tuple[bool, int, int, int]] = []
        for scene in ((payload.get("data") or {}).get("findScenes") or {}).get("scenes") or []:
            index = next((g.get("scene_index") for g in scene.get("groups") or []
                          if str((g.get("group") or {}).get("id")) == group_id), None)
            record = get_record(self.conn, int(scene["id"]))
            if record is None or record.rating_key is None or record.section_id != section_id:
                continue
            ranked.append((index is None, index if isinstance(index, int) else 0, int(scene["id"]),
                           int(record.rating_key)))
        return [rk for *_, rk in sorted(ranked)]

    # ----- rebuild -----
    def strays(self, plex: Any) -> list[tuple[int, int, str]]:
        """(section, item, collection) for items in a managed collection that are no synced scene: a hand
        addition PlexSync's re-sync of every scene would not undo."""
        out: list[tuple[int, int, str]] = []
        sections = {row.section_id for row in managed.all_rows(self.conn)}
        for section_id in sorted(sections):
            listing = plex_coll.list_collections(plex, section_id)
            synced = synced_rating_keys(self.conn, section_id)
            for row in managed.in_section(self.conn, section_id):
                found = listing.get(row.name)
                if found is None:
                    continue
                out.extend((section_id, rk, row.name) for rk in plex_coll.children(plex, found.rating_key)
                           if rk not in synced)
        return out
