"""Reading scenes from Stash in the worker, with stashapi (every call bounded by a timeout).

stashapi's requests session has no timeout of its own; a stalled Stash would block the drain forever,
so the session this subclass receives gets default timeouts before stashapi makes its first call.
"""
from __future__ import annotations

import hashlib
from typing import Any

from stashapi.stashapp import StashInterface

from stash.protocol import Invocation
from worker.http_env import settle_environment
from worker.stash_images import get_image

# One query per job, only the fields PlexSync maps (DESIGN.md "What is written to Plex").
SCENE_FRAGMENT = """
id title code details director urls date rating100 organized updated_at
studio { id name parent_studio { id name } }
performers { id name }
tags { id name parents { id name } }
stash_ids { endpoint stash_id }
groups { scene_index group { id name } }
files { path basename }
paths { screenshot }
"""


def _parents(depth: int) -> str:
    inner = "id name details image_path"
    for _ in range(depth):
        inner = f"id name details image_path parent_studio {{ {inner} }}"
    return inner


def scene_fragment(settings: Any) -> str:
    """SCENE_FRAGMENT plus what the enabled collection sources need (studio text and image, the parent
    chain, group synopsis and front image, performer scene counts); nothing extra when they are off, so
    Stash is not asked to count every performer's scenes for nothing."""
    from validation.collections import PARENT_DEPTH  # noqa: PLC0415
    parts = [SCENE_FRAGMENT]
    if getattr(settings, "collections_from_parent_studios", False):
        parts.append(f"studio {{ {_parents(PARENT_DEPTH)} }}")
    elif getattr(settings, "collections_from_studio", False):
        parts.append("studio { id details image_path }")
    if getattr(settings, "collections_from_groups", False):
        parts.append("groups { group { id synopsis front_image_path } }")
    if getattr(settings, "collections_from_performers", False):
        parts.append("performers { id scene_count }")
    if getattr(settings, "performer_photos_stash_url", ""):
        parts.append("performers { id image_path }")
    return " ".join(" ".join(parts).split())


class TimedStashInterface(StashInterface):
    """StashInterface whose HTTP session applies (connect, read) timeouts to every request."""

    def __init__(self, conn: dict[str, Any], *, timeouts: tuple[float, float], verify_ssl: bool) -> None:
        self._timeouts = timeouts
        super().__init__(conn, verify_ssl=verify_ssl)

    @property
    def s(self):  # noqa: D401 - stashapi's attribute name
        return self.__dict__["_session"]

    @s.setter
    def s(self, session) -> None:
        original = session.request
        timeouts = self._timeouts

        def request(method, url, **kwargs):
            kwargs.setdefault("timeout", timeouts)
            # Passed per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's
            # verify=False, which would break a self-signed Stash for users who have those set.
            kwargs.setdefault("verify", session.verify)
            return original(method, url, **kwargs)

        session.request = request
        self.__dict__["_session"] = session


class _QuietLogger:
    """stashapi logs through its own stderr writer; route what it says through ours (one line, redacted)."""

    def __getattr__(self, level: str):
        from stash import log  # noqa: PLC0415

        def emit(message: Any = "") -> None:
            target = getattr(log, level if level in ("trace", "debug", "info", "warning", "error") else "debug")
            target(f"stashapi: {message}")
        return emit


def connect_stash(invocation: Invocation, connect_timeout: float, read_timeout: float,
                  verify_tls: bool = False) -> TimedStashInterface:
    connection = invocation.connection
    host = connection.base_url.split("://", 1)[1].rsplit(":", 1)[0]
    conn: dict[str, Any] = {"Scheme": connection.scheme, "Host": host, "Port": connection.port,
                            "Logger": _QuietLogger()}
    if connection.session_cookie:
        conn["SessionCookie"] = {"Name": "session", "Value": connection.session_cookie}
    stash = TimedStashInterface(conn, timeouts=(connect_timeout, read_timeout), verify_ssl=verify_tls)
    settle_environment(stash.s, stash.url)
    return stash


class StashReadError(RuntimeError):
    """Stash answered the scene query with an error: retried, never mistaken for a deleted scene."""


SCENE_QUERY = "query PlexSyncScene($id: ID!) { findScene(id: $id) { %s } }"


def read_scene(stash: StashInterface, scene_id: int, fragment: str | None = None) -> dict[str, Any] | None:
    """The scene as Stash holds it now (never the hook's snapshot); None only when Stash says it is gone.

    Sent on stashapi's session (its URL, cookie, API key and our timeouts) but checked here: stashapi's
    call_GQL returns `data` even when `errors` came with it, and a resolver error nulls findScene, which
    would look exactly like a deleted scene.
    """
    query = SCENE_QUERY % (fragment or " ".join(SCENE_FRAGMENT.split()))
    response = stash.s.post(stash.url, json={"query": query, "variables": {"id": str(scene_id)}})
    if response.status_code != 200:
        raise StashReadError(f"HTTP {response.status_code} reading scene {scene_id}")
    try:
        payload = response.json()
    except ValueError:
        raise StashReadError(f"Stash did not answer with JSON reading scene {scene_id}") from None
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if errors:
        first = errors[0].get("message") if isinstance(errors, list) and isinstance(errors[0], dict) else errors
        raise StashReadError(f"GraphQL error reading scene {scene_id}: {str(first)[:300]}")
    scene = ((payload.get("data") or {}) if isinstance(payload, dict) else {}).get("findScene")
    return scene if isinstance(scene, dict) and scene.get("id") is not None else None


def fetch_cover(stash: StashInterface, scene: dict[str, Any], timeout: tuple[float, float]) -> bytes | None:
    """The scene's cover bytes (Plex cannot reach Stash's URLs, so we upload the bytes)."""
    url = (scene.get("paths") or {}).get("screenshot")
    return fetch_image(stash, url, timeout) if url else None


def fetch_image(stash: StashInterface, url: str, timeout: tuple[float, float]) -> bytes | None:
    """A Stash image (cover, studio, group front, performer) by its URL, fetched from the address we use
    with stashapi's session (cookie / API key): Stash builds image URLs from the request's Host header, and
    Plex cannot reach Stash, so PlexSync uploads the bytes."""
    path = url.split("://", 1)[-1].split("/", 1)[-1]
    address = f"{stash.url.rsplit('/graphql', 1)[0]}/{path}"

    def through_session() -> bytes | None:
        response = stash.s.get(address, timeout=timeout)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.content or None
    return get_image(stash.s, address, timeout, through_session)  # worker/stash_images.py


def bytes_hash(data: bytes | None) -> str | None:
    return hashlib.sha1(data).hexdigest() if data else None
