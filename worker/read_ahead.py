"""Read ahead for a batch of jobs: their scenes in one Stash query, their Plex items in one request.

Without it every job cost one findScene and one GET /library/metadata/{key}, each a round trip the
worker waited for. With it a batch of up to BATCH_SIZE jobs costs one findScenes (by id list) and, for
the scenes whose state differs from their last sync, one `GET /library/metadata/{k1},{k2},...`
(plexapi's fetchItems with a list of keys; Plex answers with every item, tags and locks included).

Each prefetched scene, match and item is handed out once, to the job it was read for; a job that finds
nothing here (a second job of the same scene, a failed batch read, a scene whose cover alone changed)
reads for itself exactly as before. Nothing here decides anything: the worker's per-scene flow still
checks, matches and plans every scene; this only saves it the round trips. Scenes whose sync state shows
them unchanged get no match and no item fetch, so an unchanged batch still costs no Plex request.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from stash import log
from worker.stash_gql import stash_call
from worker.stash_reader import SCENE_FRAGMENT, StashReadError, read_scene

BATCH_SIZE = 50           # jobs handed to the in-flight pool at once (and scenes per findScenes)
PLEX_KEYS_PER_REQUEST = 100  # plexapi's container size: more keys would page into a second request

# `scene_ids: [Int!]`: every Stash release has it (newer ones add `ids: [ID!]` and mark this deprecated,
# still served; stashapp/stash graphql/schema/schema.graphql).
SCENES_QUERY = ("query PlexSyncScenes($ids: [Int!]) { findScenes(scene_ids: $ids, filter: {per_page: -1}) "
                "{ scenes { %s } } }")


def read_scenes(stash: Any, scene_ids: list[int], fragment: str | None = None) -> dict[int, dict[str, Any]]:
    """The scenes of `scene_ids` that exist, by id, in one query (`fragment`: the fields to read, the
    worker's SCENE_FRAGMENT by default). Raises StashReadError when Stash answers with an error (never
    mistaken for deleted scenes: a resolver error nulls the whole list)."""
    query = SCENES_QUERY % (fragment or " ".join(SCENE_FRAGMENT.split()))
    try:
        data = stash_call(stash, query, {"ids": [int(i) for i in scene_ids]})
    except StashReadError as exc:
        raise StashReadError(f"reading {len(scene_ids)} scenes: {exc}") from None
    found = (data.get("findScenes") or {}).get("scenes") if isinstance(data, dict) else None
    if not isinstance(found, list):
        raise StashReadError(f"reading {len(scene_ids)} scenes: Stash sent no scene list")
    return {int(s["id"]): s for s in found if isinstance(s, dict) and str(s.get("id", "")).isdigit()}


class ReadAhead:
    """What was read for the current batch, handed out once per job. Thread-safe."""

    def __init__(self, fragment: str | None = None) -> None:
        self.fragment = fragment  # the scene fields the worker reads (stash_reader.scene_fragment)
        self._lock = threading.Lock()
        self._scenes: dict[int, tuple[dict[str, Any] | None, float]] = {}
        self._matches: dict[int, Any] = {}
        self._items: dict[int, Any] = {}

    def clear(self) -> None:
        with self._lock:
            self._scenes.clear()
            self._matches.clear()
            self._items.clear()

    # --- Stash ---
    def load_scenes(self, stash: Any, scene_ids: list[int]) -> None:
        """One findScenes for the batch. On failure nothing is kept: each job reads its own scene and
        the worker counts those failures as before (a Stash outage still ends the drain)."""
        ids = list(dict.fromkeys(scene_ids))
        if len(ids) < 2:
            return
        read_at = time.time()  # before the request: an update after this moment is not in what we read
        try:
            found = read_scenes(stash, ids, self.fragment)
        except Exception as exc:  # noqa: BLE001 - stashapi/requests raise many kinds; each job retries alone
            log.debug(f"reading {len(ids)} scenes in one query failed ({log.redact(str(exc))[:200]}); "
                      f"reading them one by one")
            return
        with self._lock:
            for scene_id in ids:
                self._scenes[scene_id] = (found.get(scene_id), read_at)

    def peek_scene(self, scene_id: int) -> dict[str, Any] | None:
        """The batch's copy of the scene without handing it out (None: not read ahead, or deleted)."""
        with self._lock:
            held = self._scenes.get(scene_id)
        return held[0] if held is not None else None

    def scene(self, stash: Any, scene_id: int) -> tuple[dict[str, Any] | None, float]:
        """(scene or None when deleted, the time it was read): the batch's copy, else a fresh read."""
        with self._lock:
            held = self._scenes.pop(scene_id, None)
        if held is not None:
            return held
        read_at = time.time()
        return read_scene(stash, scene_id, self.fragment), read_at

    # --- Plex ---
    def prefetch(self, session: Any, scenes: list[tuple[int, dict[str, Any], int | None]],
                 is_item_fetchable: Callable[[Any], bool]) -> None:
        """Match each (scene id, scene, remembered ratingKey) and fetch the matched items in one request.
        Called only with the scenes that differ from their last sync, on an open Plex session."""
        keys: list[int] = []
        for scene_id, scene, remembered in scenes:
            try:
                result = session.matcher.match_scene(scene, remembered)
            except Exception as exc:  # noqa: BLE001 - the job matches again and handles the error itself
                log.debug(f"scene {scene_id}: matching ahead failed ({log.redact(str(exc))[:200]})")
                continue
            with self._lock:
                self._matches[scene_id] = (remembered, result)
            if result.rating_key is not None and is_item_fetchable(result):
                keys.append(int(result.rating_key))
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), PLEX_KEYS_PER_REQUEST):
            chunk = keys[start:start + PLEX_KEYS_PER_REQUEST]
            if len(chunk) < 2:
                continue  # one key: the job's own GET costs the same
            try:
                items = session.plex.fetchItems(chunk)
            except Exception as exc:  # noqa: BLE001 - each job fetches its own item and classifies the error
                log.debug(f"fetching {len(chunk)} Plex items in one request failed "
                          f"({log.redact(str(exc))[:200]}); fetching them one by one")
                continue
            with self._lock:
                for item in items:
                    key = getattr(item, "ratingKey", None)
                    if key is not None and int(key) in chunk:
                        item._autoReload = False  # as plex.writer.fetch_item: the metadata is complete
                        self._items[int(key)] = item

    def match(self, session: Any, scene_id: int, scene: dict[str, Any], remembered: int | None) -> Any:
        """The batch's match for this scene (when made with the same remembered key), else a fresh one."""
        with self._lock:
            held = self._matches.pop(scene_id, None)
        if held is not None and held[0] == remembered:
            return held[1]
        return session.matcher.match_scene(scene, remembered)

    def item(self, rating_key: int, fetch: Callable[[int], Any]) -> Any:
        """The batch's copy of the item, once (a second edit of it in the batch must see the first one's
        result, so it fetches afresh), else `fetch(rating_key)`."""
        with self._lock:
            held = self._items.pop(int(rating_key), None)
        return held if held is not None else fetch(int(rating_key))
