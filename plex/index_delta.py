"""Cheap second looks after a path-index miss: ask Plex only for what it added or changed since the
index last looked, per section, and merge that in; re-list whole sections only on the full schedule.

Plex filters a section listing by date (plexapi builds `filters={"addedAt>>": dt}` as
`addedAt%3E%3E=<unix seconds>`, "is after"). A file Plex scanned a minute ago is one small page, where a
full rebuild of a 100,000-item library is ~100 pages. A new item has a new addedAt; an item whose file
moved or was re-matched has a new updatedAt; one listing per section filtered on either finds both.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from stash import log

if TYPE_CHECKING:
    from plex.index import PathIndex

FULL_REBUILD_INTERVAL = 6 * 3600.0  # PathIndex's default rebuild_interval: a miss re-lists every section
                                    # at most this often (to drop deleted items and any drift)
MIN_LOOK_INTERVAL = 15.0            # misses within this long of a look reuse it (a bulk edit of new files,
                                    # scenes waiting for Plex): a few Plex requests a minute at most
LOOK_MARGIN = 300.0                 # ask from this long before the last look: clock skew between this
                                    # machine and Plex, and items added in the second of the last look

_SCHEMA = """CREATE TABLE IF NOT EXISTS path_index_looks (
    section_id INTEGER PRIMARY KEY, looked_at REAL NOT NULL)"""


def _ensure_table(index: "PathIndex") -> None:
    from plex.index import _Tx
    with _Tx(index.conn) as c:
        c.execute(_SCHEMA)


def last_looks(index: "PathIndex") -> dict[int, float]:
    """Per section: the later of its last full build and its last filtered look."""
    _ensure_table(index)
    looks = dict(index.built_at())
    for sid, at in index.conn.execute("SELECT section_id, looked_at FROM path_index_looks").fetchall():
        if int(sid) in looks:
            looks[int(sid)] = max(looks[int(sid)], float(at))
    return looks


def _record_look(index: "PathIndex", section_id: int, at: float) -> None:
    from plex.index import _Tx
    with _Tx(index.conn) as c:
        c.execute("INSERT OR REPLACE INTO path_index_looks (section_id, looked_at) VALUES (?, ?)",
                           (int(section_id), at))


def changed_filter(since: float) -> str:
    """What plexapi sends for filters={"or": [{"addedAt>>": t}, {"updatedAt>>": t}]}: one listing."""
    t = int(since)
    return f"push=1&addedAt%3E%3E={t}&or=1&updatedAt%3E%3E={t}&pop=1"


def changed_items(index: "PathIndex", section_id: int, since: float) -> dict[int, list[str]]:
    """ratingKey -> every part file, for items added or updated after `since` (unix seconds)."""
    from plex.index import iter_section_parts
    items: dict[int, list[str]] = defaultdict(list)
    for rk, path in iter_section_parts(index.plex, section_id, filters=changed_filter(since)):
        items[rk].append(path)
    return dict(items)


def look_since_last(index: "PathIndex") -> int:
    """Merge every section's recent additions and changes into the index; returns items merged."""
    looks = last_looks(index)
    merged = 0
    for sid in index.section_ids:
        started = index.clock()
        since = looks.get(sid, 0.0) - LOOK_MARGIN
        for rk, paths in changed_items(index, sid, since).items():
            index.replace_item(sid, rk, paths)
            merged += 1
        _record_look(index, sid, started)
    return merged


def look_again(index: "PathIndex") -> bool:
    """After a miss: a full rebuild when its schedule is due, else a filtered look unless one was made
    moments ago (or `index.force_next_look` is set: a user's own press always looks again).
    True when the index may have changed."""
    now = index.clock()
    last_full = index.last_full_build()
    if last_full is None or now - last_full >= index.rebuild_interval:
        index.rebuild()
        return True
    looks = last_looks(index)
    newest = min(looks.values()) if looks else None
    force = getattr(index, "force_next_look", False)
    if not force and newest is not None and now - newest < MIN_LOOK_INTERVAL:
        return False
    index.force_next_look = False
    merged = look_since_last(index)
    log.debug(f"path index: looked for items Plex added or changed since the last look; {merged} merged")
    return merged > 0
