"""The Plex side of one drain: connection, chosen sections, path index and matcher, made on first use.

Nothing here is created for a scene whose sync state shows it unchanged, so an unchanged library
costs no Plex request at all.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from plex.client import connect, movie_sections
from plex.index import PathIndex
from plex.matcher import Matcher
from stash import log
from validation.config import Settings


class PlexSetupError(RuntimeError):
    """The configured libraries do not exist on this Plex (a settings problem, not an outage)."""


@dataclass
class PlexSession:
    plex: Any
    sections: list[Any]
    index: PathIndex
    matcher: Matcher

    @classmethod
    def open(cls, settings: Settings, conn: sqlite3.Connection) -> "PlexSession":
        plex = connect(settings)
        sections = movie_sections(plex, settings.plex_libraries)
        unknown = getattr(sections, "unknown", ())
        if unknown:
            log.warning(f"Plex has no movie library named {', '.join(repr(u) for u in unknown)} "
                        f"(setting plex_libraries); using the others")
        if not sections:
            raise PlexSetupError("no Plex movie library to sync into: check the plex_libraries setting")
        index = PathIndex(conn, plex, sections, settings.path_map)
        index.ensure_fresh()
        return cls(plex=plex, sections=list(sections), index=index, matcher=Matcher(plex, index, settings))
