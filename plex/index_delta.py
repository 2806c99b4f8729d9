"""Cheap second looks after a path-index miss: ask Plex only for what it added or changed since the
index last looked, per section, and merge that in; re-list whole sections only on the full schedule.

Plex filters a section listing by date (plexapi builds `filters={"addedAt>>": dt}` as
`addedAt%3E%3E=<unix seconds>`, "is after"). A file Plex scanned a minute ago is one small page, where a
full rebuild of a 100,000-item library is ~100 pages. A new item has a new addedAt; an item whose file
moved or was re-matched has a new updatedAt; one listing per section filtered on either finds both.

PlexSync's own edits move updatedAt, so the updatedAt window is read on Plex's own clock: it starts at the
newest updatedAt the previous listing saw (a window on our clock, with a margin for skew, re-listed every
item a long Sync all edited in the last minutes, at every look). addedAt, which our edits never move, keeps
the window on our clock with its margin (a scan that commits an item seconds after stamping it), or starts
after the newest addedAt seen when that is earlier (our clock ahead of Plex's).
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from stash import log

if TYPE_CHECKING:
    import sqlite3

    from plex.index import PathIndex

FULL_REBUILD_INTERVAL = 6 * 3600.0  # PathIndex's default rebuild_interval: a miss re-lists every section
                                    # at most this often (to drop deleted items and any drift)
MIN_LOOK_INTERVAL = 15.0            # misses within this long of a look reuse it (a bulk edit of new files,
                                    # scenes waiting for Plex): a few Plex requests a minute at most
LOOK_MARGIN = 300.0                 # ask from this long before the last look (our clock): clock skew
                                    # between this machine and Plex, a scan that commits items late
UPDATED_MARGIN = 1                  # Plex clock: updates in the second of the newest one seen, too

# Created with the path index's own tables (PathIndex.__init__).
SCHEMA = ("""CREATE TABLE IF NOT EXISTS path_index_looks (
    section_id INTEGER PRIMARY KEY, looked_at REAL NOT NULL)""",
           # Newest addedAt/updatedAt (Plex's unix seconds) seen in a section's listings. A cache like
           # the rest of the path index: losing it costs one look on our own clock.
           """CREATE TABLE IF NOT EXISTS path_index_stamps (
    section_id INTEGER PRIMARY KEY, added INTEGER NOT NULL, updated INTEGER NOT NULL)""")


class PlexStamps:
    """The newest addedAt and updatedAt seen in one section's listing."""
    __slots__ = ("added", "updated")

    def __init__(self, added: int = 0, updated: int = 0) -> None:
        self.added, self.updated = added, updated

    def see(self, attrib: dict[str, str]) -> None:
        """Take in one <Video>'s attributes."""
        added, updated = attrib.get("addedAt", ""), attrib.get("updatedAt", "")
        if added.isdigit() and int(added) > self.added:
            self.added = int(added)
        if updated.isdigit() and int(updated) > self.updated:
            self.updated = int(updated)

    def known(self) -> bool:
        return self.added > 0 and self.updated > 0


def read_stamps(index: "PathIndex") -> dict[int, PlexStamps]:
    return {int(sid): PlexStamps(int(added), int(updated)) for sid, added, updated in
            index.conn.execute("SELECT section_id, added, updated FROM path_index_stamps").fetchall()}


def record_stamps(conn: "sqlite3.Connection", section_id: int, stamps: PlexStamps) -> None:
    """Statement-level: joins the caller's transaction (a section build swaps its rows and stamps at once)."""
    if stamps.known():
        conn.execute("INSERT OR REPLACE INTO path_index_stamps (section_id, added, updated) VALUES (?, ?, ?)",
                     (int(section_id), stamps.added, stamps.updated))
    else:  # an empty section says nothing about Plex's clock: the next look uses ours
        conn.execute("DELETE FROM path_index_stamps WHERE section_id = ?", (int(section_id),))


def last_looks(index: "PathIndex") -> dict[int, float]:
    """Per section: the later of its last full build and its last filtered look."""
    looks = dict(index.built_at())
    for sid, at in index.conn.execute("SELECT section_id, looked_at FROM path_index_looks").fetchall():
        if int(sid) in looks:
            looks[int(sid)] = max(looks[int(sid)], float(at))
    return looks


def changed_filter(added_since: float, updated_since: float | None = None) -> str:
    """What plexapi sends for filters={"or": [{"addedAt>>": a}, {"updatedAt>>": u}]}: one listing."""
    a = int(added_since)
    u = a if updated_since is None else int(updated_since)
    return f"push=1&addedAt%3E%3E={a}&or=1&updatedAt%3E%3E={u}&pop=1"


def changed_items(index: "PathIndex", section_id: int, added_since: float, updated_since: float | None = None,
                  stamps: PlexStamps | None = None) -> dict[int, list[str]]:
    """ratingKey -> every part file, for items added after `added_since` or updated after `updated_since`
    (unix seconds; the same when not given); `stamps` takes in the newest dates listed."""
    from plex.index import iter_section_parts
    items: dict[int, list[str]] = defaultdict(list)
    for rk, path in iter_section_parts(index.plex, section_id, filters=changed_filter(added_since, updated_since),
                                       stamps=stamps):
        items[rk].append(path)
    return dict(items)


def look_since_last(index: "PathIndex") -> int:
    """Merge every section's recent additions and changes into the index; returns the items whose files
    the index did not already hold as Plex lists them."""
    from plex.index import _Tx
    looks = last_looks(index)
    stamps = read_stamps(index)
    merged = 0
    for sid in index.section_ids:
        started = index.clock()
        seen = stamps.get(sid) or PlexStamps()
        added_since = updated_since = looks.get(sid, 0.0) - LOOK_MARGIN
        if seen.known():
            added_since = min(added_since, seen.added)
            updated_since = seen.updated - UPDATED_MARGIN
        merged += index.merge_items(sid, changed_items(index, sid, added_since, updated_since, seen))
        with _Tx(index.conn) as c:
            c.execute("INSERT OR REPLACE INTO path_index_looks (section_id, looked_at) VALUES (?, ?)",
                      (int(sid), started))
            record_stamps(c, sid, seen)
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
