"""Stash images (scene covers, studio, group and performer pictures) fetched over urllib3 directly.

A drain fetches one cover per changed scene. Through stashapi's requests session each fetch cost
0.42 ms of client CPU, most of it requests' per-request session work (cookie jars, header merging,
hooks) rather than HTTP: 0.19 ms over urllib3 directly, with the same headers and cookie. The drain is
CPU-bound in one process, so that difference is about a twentieth of a bulk sync.

Only the plain case takes this path: an http:// Stash, no proxy for it, an answer that is the image or
a 404. HTTPS (certificate choices), a proxy or a redirect (e.g. to Stash's login page) go through the
session exactly as before (`fallback`), so those rules live in one place: requests.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

_POOL_LOCK = threading.Lock()


class ImageFetchError(RuntimeError):
    """Stash answered an image request with an error status."""


def _pool(session: Any) -> Any:
    """One urllib3 pool per requests session, kept on it (lanes share it; urllib3 pools are thread-safe)."""
    with _POOL_LOCK:
        pool = getattr(session, "_plexsync_image_pool", None)
        if pool is None:
            import urllib3  # noqa: PLC0415 - requests' own dependency; loaded by the worker anyway
            pool = urllib3.PoolManager(num_pools=2, maxsize=16, retries=False)
            session._plexsync_image_pool = pool
        return pool


def _headers(session: Any) -> dict[str, str]:
    """The session's headers (stashapi's ApiKey among them) and its cookies (the session cookie)."""
    headers = {str(k): str(v) for k, v in session.headers.items()}
    cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies if c.value is not None)
    if cookies:
        headers["Cookie"] = cookies
    return headers


def fast_path_allowed(session: Any, url: str) -> bool:
    """Plain http and no proxy for this address: nothing requests would decide differently."""
    if not url.lower().startswith("http://") or session.trust_env:
        return False
    from requests.utils import select_proxy  # noqa: PLC0415
    return select_proxy(url, session.proxies or {}) is None


def get_image(session: Any, url: str, timeout: tuple[float, float],
              fallback: Callable[[], bytes | None]) -> bytes | None:
    """The image's bytes, None when Stash has none (404); `fallback()` whenever the plain path does not
    apply. Raises ImageFetchError on any other status, urllib3's errors when Stash cannot be reached."""
    if not fast_path_allowed(session, url):
        return fallback()
    import urllib3  # noqa: PLC0415
    response = _pool(session).request("GET", url, headers=_headers(session), redirect=False,
                                      timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
    if 300 <= response.status < 400:
        return fallback()  # a redirect is followed the way requests follows it
    if response.status == 404:
        return None
    if response.status >= 400:
        raise ImageFetchError(f"HTTP {response.status} fetching a Stash image")
    return response.data or None
