"""Items Plex re-created: fetch the matched item, and when the path index was wrong about it, correct
the index and match again before anything is edited.

Plex gives an item a new ratingKey when it deletes and re-adds it (a move on the Plex side, an emptied
trash, a rebuilt library). The old key then answers 404 or, after its number was reused, holds another
file: that item must never be edited. The fetch already tells what the old key holds now, so the index
takes that in, asks Plex for what it added since it last looked (plex/index_delta.py), and matches again.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager

from plex.client import ErrorKind, classify_error
from plex.matcher import Confidence, MatchResult
from plex.writer import fetch_item
from stash import log


def _fetch_or_none(fetch: Callable[[int], Any], rating_key: int) -> Any | None:
    try:
        return fetch(rating_key)
    except Exception as exc:  # noqa: BLE001 - only a 404 is ours to handle; the rest go to the worker
        if classify_error(exc) is ErrorKind.NOT_FOUND:
            return None
        raise


def fetch_matched_item(session: Any, scene: dict[str, Any], result: MatchResult,
                       holds_file: Callable[[Any, MatchResult], bool],
                       fetch: Callable[[int], Any] | None = None,
                       index_lock: ContextManager[Any] | None = None) -> tuple[MatchResult, Any] | None:
    """(result, item) to edit, or None when no item holds the scene's file now (the caller retries).
    Only a HIGH, unpinned match is checked against the item's files (a pin is the user's word; a LOW
    match was chosen knowingly). `fetch` reads the matched item (the worker's batch copy, when it has one);
    `index_lock` guards the path index when several edits are in flight."""
    first = fetch or (lambda key: fetch_item(session.plex, key))
    if result.confidence is not Confidence.HIGH or result.pinned:
        return result, first(result.rating_key)  # a 404 here is the worker's to handle
    item = _fetch_or_none(first, result.rating_key)
    if item is not None and holds_file(item, result):
        return result, item
    stale = result.rating_key
    section = int(getattr(item, "librarySectionID", 0) or 0) if item is not None else 0
    with index_lock or contextlib.nullcontext():
        session.index.replace_item(section, stale, list(item.locations or ()) if item is not None else [])
        session.index.force_next_look = True
        session.index.look_again_on_miss()
        again = session.matcher.match_scene(scene)
    if again.confidence is not Confidence.HIGH or again.rating_key == stale:
        return None
    fresh = _fetch_or_none(lambda key: fetch_item(session.plex, key), again.rating_key)
    if fresh is None or not holds_file(fresh, again):
        return None
    log.info(f"Plex item {stale} {'is gone' if item is None else 'now holds another file'}; the scene's "
             f"file is now Plex item {again.rating_key}")
    return again, fresh
