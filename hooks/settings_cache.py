"""The few settings a scene hook acts on, kept in the queue database for a few seconds.

Stash runs one hook process per scene, in series, inside the user's Save: reading the settings over
GraphQL in every one of them (and importing the HTTP client and the settings parser to do it) was most
of the hook's cost. The first hook of a burst reads them from Stash and stores what hooks need here; the
hooks of the next CACHE_SECONDS read that row instead. So a settings change reaches hooks within
CACHE_SECONDS (README: "Settings"); tasks always read the settings fresh from Stash.

Nothing secret is stored: only on/off facts and the "Plex not configured" message (never the token).
"""
from __future__ import annotations

import time

from queue.database import get_state, set_state, transaction

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

CACHE_KEY = "hook_settings"
CACHE_SECONDS = 3.0
# Attributes of validation.config.Settings a scene hook reads (names as on Settings).
# The scope gates' and the Organized collection's switches decide which input fields a save must touch.
FLAGS = ("enabled", "plex_configured", "verify_stash_tls", "debug_logging", "only_organized", "only_with_stash_id",
         "collection_organized")


class HookSettings:
    """The cached subset of Settings, read like Settings (settings.enabled, missing_plex_message())."""

    __slots__ = FLAGS + ("_missing_plex",)

    def __init__(self, values: dict[str, Any]) -> None:
        for name in FLAGS:
            setattr(self, name, bool(values.get(name)))
        missing = values.get("missing_plex")
        self._missing_plex = missing if isinstance(missing, str) and missing else None

    def missing_plex_message(self) -> str | None:
        return self._missing_plex


def snapshot(settings: Any) -> dict[str, Any]:
    """What a hook needs from a full Settings object."""
    values: dict[str, Any] = {name: bool(getattr(settings, name)) for name in FLAGS}
    values["missing_plex"] = settings.missing_plex_message()
    return values


def _encode(values: dict[str, Any]) -> str:
    # A flat text row, not JSON: the hook process does not import json (see stash/fastjson.py).
    flags = "".join("1" if values[name] else "0" for name in FLAGS)
    return f"{values['stored_at']!r}|{flags}|{values.get('missing_plex') or ''}"


def _decode(raw: str) -> dict[str, Any] | None:
    stored_at, _, rest = raw.partition("|")
    flags, _, missing = rest.partition("|")
    if len(flags) != len(FLAGS) or set(flags) - {"0", "1"}:
        return None
    try:
        values: dict[str, Any] = {"stored_at": float(stored_at)}
    except ValueError:
        return None
    values.update({name: flag == "1" for name, flag in zip(FLAGS, flags)})
    values["missing_plex"] = missing
    return values


def load(conn: sqlite3.Connection, now: float | None = None,
         max_age: float = CACHE_SECONDS) -> HookSettings | None:
    """The cached settings when stored less than `max_age` seconds ago, else None (read them fresh)."""
    raw = get_state(conn, CACHE_KEY)
    data = _decode(raw) if raw else None
    if data is None:
        return None
    now = time.time() if now is None else now
    if not 0 <= now - data["stored_at"] < max_age:
        return None  # stale, or the clock went back: never trust it
    return HookSettings(data)


def store(conn: sqlite3.Connection, settings: Any, now: float | None = None) -> None:
    values = snapshot(settings)
    values["stored_at"] = time.time() if now is None else now
    with transaction(conn):
        set_state(conn, CACHE_KEY, _encode(values))
