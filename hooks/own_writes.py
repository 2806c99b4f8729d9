"""Recognise the scene update PlexSync itself made (worker/stash_link.py adds the Plex link), so its hook
run records nothing and costs no Plex request: no sync loop.

That write is a bulkSceneUpdate whose only field is `urls` in ADD mode with one value: the Plex Web address
of the very item the sync state links the scene to, on the Plex server PlexSync knows. Anything else (the
user's own URL edit, a pin to another item, a URL change together with any other field) is not ours and
goes through the normal filter. Even a user who adds that same link by hand loses nothing: the scene is
already synced to that item. Standard library only (the hook path).
"""
from __future__ import annotations

import sqlite3
TYPE_CHECKING = False  # the hook path avoids importing typing (bench/hook_latency.py)
if TYPE_CHECKING:
    from typing import Any, Mapping

from queue.database import get_state
from queue.operations import get_record

SERVER_KEY = "plex_machine_identifier"  # worker/plex_session.SERVER_KEY (not imported: plexapi-free path)
_OWN_FIELDS = {"ids", "urls", "clientMutationId"}


def is_own_link_write(conn: sqlite3.Connection, scene_id: int, update_data: Mapping[str, Any]) -> bool:
    data = update_data.get("input")
    fields = update_data.get("inputFields")
    if not isinstance(data, dict) or not isinstance(fields, list) or "urls" not in fields:
        return False
    if not set(fields) <= _OWN_FIELDS:
        return False
    urls = data.get("urls")
    if not isinstance(urls, dict) or urls.get("mode") != "ADD":
        return False
    values = urls.get("values")
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], str):
        return False
    from plex.pin import parse_plex_item_url  # noqa: PLC0415 - only for a URL-only update
    record = get_record(conn, scene_id)
    machine = get_state(conn, SERVER_KEY)
    if record is None or not record.rating_key or not machine:
        return False
    return parse_plex_item_url(values[0], machine) == int(record.rating_key)
