"""plexapi connection, section selection and error translation (DESIGN.md "Errors").

plexapi passes `timeout` unchanged to requests on every call (PlexServer.query: `timeout or
self._timeout`), so a (connect, read) tuple works for the first GET / and every later request.
"""
from __future__ import annotations

import enum
import re
import socket
from typing import Any, Iterable
from urllib.parse import quote, quote_plus
from xml.etree.ElementTree import ParseError

import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.library import LibrarySection
from plexapi.server import PlexServer


class ErrorKind(enum.Enum):
    OUTAGE = "outage"            # refused, timeout, 5xx: retry with backoff, never dead-letter
    AUTH = "auth"                # 401: stop the drain, check the token
    NOT_FOUND = "not_found"      # 404: the item is gone (index stale)
    BAD_REQUEST = "bad_request"  # other 4xx: our request is wrong
    XML = "xml"                  # 200 with a body that is not XML
    TLS = "tls"                  # Plex's certificate does not match plex_url: stop, fix the setting


class SectionList(list):
    """Selected movie sections; `.unknown` lists wanted titles that are not movie sections of this Plex."""
    unknown: tuple[str, ...] = ()


def connect(settings: Any) -> PlexServer:
    """One GET / with our own session; TLS verified normally (Plex, unlike Stash, is not ours to trust)."""
    session = requests.Session()
    session.verify = True
    timeout = (float(settings.connect_timeout), float(settings.read_timeout))
    return PlexServer(settings.plex_url, settings.plex_token, session=session, timeout=timeout)


_STATUS = re.compile(r"^\((\d{3})\)")


def status_code(exc: BaseException) -> int | None:
    """HTTP status of a plexapi error (its message starts '(NNN) codename; url body')."""
    m = _STATUS.match(str(exc))
    return int(m.group(1)) if m else None


def classify_error(exc: BaseException) -> ErrorKind | None:
    """Translate an exception from a Plex call into what the worker does about it; None = not a Plex error."""
    if isinstance(exc, Unauthorized):
        return ErrorKind.AUTH
    if isinstance(exc, NotFound):
        return ErrorKind.NOT_FOUND
    if isinstance(exc, BadRequest):
        code = status_code(exc)
        # 408/429 are "try again later" by definition: treat like an outage, not a broken request.
        if code is not None and (code >= 500 or code in (408, 429)):
            return ErrorKind.OUTAGE
        return ErrorKind.BAD_REQUEST
    if isinstance(exc, ParseError):
        return ErrorKind.XML
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return ErrorKind.BAD_REQUEST
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate that does not match plex_url will not fix itself: a settings problem, not an outage.
        return ErrorKind.TLS
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                        requests.exceptions.ChunkedEncodingError, socket.timeout, ConnectionError,
                        TimeoutError)):
        return ErrorKind.OUTAGE
    if isinstance(exc, requests.exceptions.RequestException):
        return ErrorKind.OUTAGE
    return None


_QUERY = re.compile(r"(https?://[^\s?#'\"<>]*)\?[^\s'\"<>]*")
_TOKEN_PARAM = re.compile(r"(X-Plex-Token[=:]\s*)[^\s&'\"<>]+", re.IGNORECASE)


def safe_error_text(exc: BaseException, token: str | None, limit: int = 500) -> str:
    """One-line error text for logs: no token (raw or URL-encoded), no query strings, bounded length."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in {t for t in (token, quote(token or "", safe=""), quote_plus(token or "")) if t}:
        text = text.replace(secret, "***")
    text = _TOKEN_PARAM.sub(r"\1***", text)
    text = _QUERY.sub(r"\1?…", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def movie_sections(plex: PlexServer, wanted_titles: Iterable[str]) -> SectionList:
    """Movie sections to sync into: the wanted titles (case-insensitive, in the order given) or,
    when none are wanted, every movie section. Unknown or non-movie titles end up in `.unknown`.
    Costs GET /library + GET /library/sections once per PlexServer (plexapi caches them)."""
    sections = [s for s in plex.library.sections() if s.type == "movie"]
    wanted = [t for t in wanted_titles if t and t.strip()]
    result = SectionList()
    if not wanted:
        result.extend(sections)
        return result
    by_title: dict[str, list[LibrarySection]] = {}
    for s in sections:
        by_title.setdefault(s.title.lower().strip(), []).append(s)
    unknown: list[str] = []
    seen: set[int] = set()
    for title in wanted:
        found = by_title.get(title.lower().strip())
        if not found:
            unknown.append(title)
            continue
        for s in found:
            if s.key not in seen:
                seen.add(s.key)
                result.append(s)
    result.unknown = tuple(unknown)
    return result
