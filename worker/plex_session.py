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
from queue.database import get_state, set_state, transaction
from stash import log
from worker.http_env import settle_environment
from validation.config import Settings


SERVER_KEY = "plex_machine_identifier"


def forget_other_server(conn: sqlite3.Connection, machine_identifier: str) -> bool:
    """When plex_url now names another Plex server, everything learnt about the old one (path index,
    ratingKeys, what was written, reviews naming its items) is wrong for the new one: ratingKeys are
    small sequential numbers, so an old key would edit an unrelated item. Returns True when it forgot."""
    if not machine_identifier:
        return False
    known = get_state(conn, SERVER_KEY)
    if known == machine_identifier:
        return False
    with transaction(conn):
        if known is not None:
            for table in ("path_index", "path_index_meta", "path_index_staging"):
                try:
                    conn.execute(f"DELETE FROM {table}")
                except sqlite3.OperationalError:
                    pass  # not built yet
            conn.execute("UPDATE sync_state SET rating_key = NULL, section_id = NULL, content_hash = NULL, "
                         "poster_hash = NULL")
            conn.execute("DELETE FROM reviews")
        set_state(conn, SERVER_KEY, machine_identifier)
    if known is not None:
        log.warning("plex_url now points at a different Plex server: forgot the old server's path index and "
                    "item links; every scene will be matched and written again on its next sync")
    return known is not None


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
        settle_environment(plex._session, settings.plex_url)  # noqa: SLF001 - plexapi's requests session
        forget_other_server(conn, str(getattr(plex, "machineIdentifier", "") or ""))
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
