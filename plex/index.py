"""The Plex path index: normalised part path -> (section, ratingKey, Plex path), kept in SQLite.

Built from raw paged section listings (`plex.query` + ElementTree walk of <Video>/<Media>/<Part>):
building plexapi objects per item is what makes a 100,000-item scan slow and memory-hungry
(reference/plex-api.md §3). Pages are staged row by row, then one short transaction swaps a
section's rows in, so the shared queue database is never write-locked across network calls and
a killed build leaves the previous index intact.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

from plex.index_delta import FULL_REBUILD_INTERVAL, PlexStamps, look_again, record_stamps
from plex.index_delta import SCHEMA as DELTA_SCHEMA
from plex.paths import basename_key, normalise_path
from plex.pin import item_url

PAGE_SIZE = 1000

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS path_index (
        path_key TEXT NOT NULL, base_key TEXT NOT NULL, section_id INTEGER NOT NULL,
        rating_key INTEGER NOT NULL, plex_path TEXT NOT NULL,
        PRIMARY KEY (section_id, path_key, rating_key))""",
    "CREATE INDEX IF NOT EXISTS path_index_path ON path_index(path_key)",
    "CREATE INDEX IF NOT EXISTS path_index_base ON path_index(base_key)",
    "CREATE INDEX IF NOT EXISTS path_index_rk ON path_index(rating_key)",
    """CREATE TABLE IF NOT EXISTS path_index_meta (
        section_id INTEGER PRIMARY KEY, built_at REAL NOT NULL, item_count INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS path_index_staging (
        path_key TEXT NOT NULL, base_key TEXT NOT NULL, section_id INTEGER NOT NULL,
        rating_key INTEGER NOT NULL, plex_path TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS path_index_staging_section ON path_index_staging(section_id)",
)


@dataclass(frozen=True)
class Candidate:
    """One Plex item a scene may belong to."""
    rating_key: int
    section_id: int
    plex_path: str
    url: str


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT whatever isolation_level the worker's connection uses. If the caller
    already has a transaction open, nest with a SAVEPOINT instead of committing someone else's work."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.nested = False

    def __enter__(self) -> sqlite3.Connection:
        self.nested = self.conn.in_transaction
        self.conn.execute("SAVEPOINT path_index" if self.nested else "BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.nested:
            if exc_type is not None:
                self.conn.execute("ROLLBACK TO path_index")
            self.conn.execute("RELEASE path_index")
        elif exc_type is None:
            self.conn.commit()
        else:
            self.conn.rollback()


def iter_section_parts(plex: Any, section_id: int, page_size: int = PAGE_SIZE, filters: str = "",
                       stamps: PlexStamps | None = None) -> Iterator[tuple[int, str]]:
    """(ratingKey, part file) for every movie in a section (or those matching `filters`, already
    url-encoded, e.g. "addedAt%3E%3E=1700000000"), one raw XML page at a time; `stamps` takes in the
    newest addedAt/updatedAt listed (Plex's clock, for the next filtered look)."""
    start = 0
    while True:
        root = plex.query(f"/library/sections/{section_id}/all?type=1{'&' + filters if filters else ''}",
                          headers={"X-Plex-Container-Start": str(start),
                                   "X-Plex-Container-Size": str(page_size)})
        if root is None:
            return
        count = 0
        for video in root:
            rk = video.attrib.get("ratingKey")
            count += 1
            if stamps is not None:
                stamps.see(video.attrib)
            if not rk or not rk.isdigit():
                continue
            for part in video.iterfind("Media/Part"):
                path = part.attrib.get("file")
                if path:
                    yield int(rk), path
        total_attr = root.attrib.get("totalSize")
        start += count
        if count == 0:
            return
        if total_attr is not None and total_attr.isdigit():
            if start >= int(total_attr):
                return
        elif count < page_size:
            return  # no totalSize: a short page is the last one
        del root


class PathIndex:
    """Per-section index in the shared queue database; matching reads only SQLite, never Plex."""

    def __init__(self, conn: sqlite3.Connection, plex: Any, sections: Sequence[Any],
                 path_map: Iterable[tuple[str, str]] | None = None,
                 rebuild_interval: float = FULL_REBUILD_INTERVAL,
                 clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.plex = plex
        self.sections = list(sections)
        self.section_ids = [int(s.key) for s in self.sections]
        self.path_map = tuple(path_map or ())
        self.rebuild_interval = float(rebuild_interval)
        self.clock = clock
        self.machine_identifier = getattr(plex, "machineIdentifier", "") or ""
        self.builds = 0  # full section builds done by this object (for logs and tests)
        self.force_next_look = False  # set for a user's press: the next miss asks Plex whatever the timing
        with _Tx(conn) as c:  # CREATE ... IF NOT EXISTS: a no-op on every run but the first
            for stmt in _SCHEMA + DELTA_SCHEMA:
                c.execute(stmt)

    # ---- building -------------------------------------------------------------------------
    def build_section(self, section_id: int) -> int:
        """Re-read one section from Plex and swap its rows in atomically; returns the item count."""
        sid = int(section_id)
        with _Tx(self.conn) as c:
            c.execute("DELETE FROM path_index_staging WHERE section_id = ?", (sid,))
        items: set[int] = set()
        batch: list[tuple[str, str, int, int, str]] = []
        stamps = PlexStamps()

        def flush() -> None:
            with _Tx(self.conn) as c:
                c.executemany("INSERT INTO path_index_staging VALUES (?, ?, ?, ?, ?)", batch)
            batch.clear()

        for rk, path in iter_section_parts(self.plex, sid, stamps=stamps):
            items.add(rk)
            batch.append((normalise_path(path), basename_key(path), sid, rk, path))
            if len(batch) >= PAGE_SIZE:
                flush()
        if batch:
            flush()
        with _Tx(self.conn) as c:
            c.execute("DELETE FROM path_index WHERE section_id = ?", (sid,))
            c.execute("INSERT OR IGNORE INTO path_index SELECT path_key, base_key, section_id, rating_key, "
                      "plex_path FROM path_index_staging WHERE section_id = ?", (sid,))
            c.execute("DELETE FROM path_index_staging WHERE section_id = ?", (sid,))
            c.execute("INSERT OR REPLACE INTO path_index_meta (section_id, built_at, item_count) "
                      "VALUES (?, ?, ?)", (sid, self.clock(), len(items)))
            record_stamps(c, sid, stamps)
        self.builds += 1
        return len(items)

    def rebuild(self) -> None:
        for sid in self.section_ids:
            self.build_section(sid)

    def built_at(self) -> dict[int, float]:
        rows = self.conn.execute("SELECT section_id, built_at FROM path_index_meta").fetchall()
        return {int(sid): float(at) for sid, at in rows if int(sid) in self.section_ids}

    def last_full_build(self) -> float | None:
        """Time of the oldest section build, None if some section was never built."""
        built = self.built_at()
        if any(sid not in built for sid in self.section_ids):
            return None
        return min(built.values()) if built else None

    def ensure_fresh(self, max_age: float | None = None) -> bool:
        """Build sections never built (and, with max_age, older than that); True if anything was built."""
        built = self.built_at()
        now = self.clock()
        did = False
        for sid in self.section_ids:
            at = built.get(sid)
            if at is None or (max_age is not None and now - at >= max_age):
                self.build_section(sid)
                did = True
        return did

    def look_again_on_miss(self) -> bool:
        """A lookup missed: ask Plex what it added or changed since the last look (plex/index_delta.py),
        or rebuild fully when the schedule says so. True when the index changed."""
        return look_again(self)

    @staticmethod
    def _set_parts(c: sqlite3.Connection, section_id: int, rating_key: int, plex_paths: Iterable[str]) -> None:
        """Statement-level: the item's indexed parts become `plex_paths` (none: the item is forgotten)."""
        c.execute("DELETE FROM path_index WHERE rating_key = ?", (int(rating_key),))
        c.executemany("INSERT OR IGNORE INTO path_index VALUES (?, ?, ?, ?, ?)",
                      [(normalise_path(p), basename_key(p), int(section_id), int(rating_key), p) for p in plex_paths])

    def replace_item(self, section_id: int, rating_key: int, plex_paths: Iterable[str]) -> None:
        """Set one item's indexed parts to what Plex says it holds now (none: forget the item)."""
        with _Tx(self.conn) as c:
            self._set_parts(c, section_id, rating_key, plex_paths)

    def merge_items(self, section_id: int, items: dict[int, list[str]]) -> int:
        """replace_item for many items in one transaction, skipping those the index already holds exactly
        (a look lists every item PlexSync itself just edited); returns how many changed."""
        sid = int(section_id)
        keys = [int(rk) for rk in items]
        held: dict[int, set[tuple[int, str]]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            for rk, row_sid, path in self.conn.execute(
                    "SELECT rating_key, section_id, plex_path FROM path_index WHERE rating_key IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                held.setdefault(int(rk), set()).add((int(row_sid), path))
        changed = [rk for rk in keys if held.get(rk) != {(sid, p) for p in items[rk]}]
        if changed:
            with _Tx(self.conn) as c:
                for rk in changed:
                    self._set_parts(c, sid, rk, items[rk])
        return len(changed)

    # ---- lookups --------------------------------------------------------------------------
    def _section_filter(self, section_ids: Iterable[int] | None) -> list[int]:
        ids = [int(s) for s in (section_ids if section_ids is not None else self.section_ids)]
        return [s for s in ids if s in self.section_ids] if section_ids is not None else ids

    def _select(self, column: str, key: Any, section_ids: Iterable[int] | None, order: str) -> list[tuple]:
        """(rating_key, section_id, plex_path) rows where `column` = key, within the allowed sections."""
        ids = self._section_filter(section_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self.conn.execute(
            f"SELECT rating_key, section_id, plex_path FROM path_index WHERE {column} = ? "
            f"AND section_id IN ({marks}) ORDER BY {order}", (key, *ids)).fetchall()

    def _rows(self, column: str, key: str, section_ids: Iterable[int] | None) -> list[Candidate]:
        return self._candidates(self._select(column, key, section_ids, "rating_key"))

    def _candidates(self, rows: Iterable[tuple[int, int, str]]) -> list[Candidate]:
        order = {sid: i for i, sid in enumerate(self.section_ids)}
        seen: dict[int, Candidate] = {}
        for rk, sid, path in rows:
            if int(rk) not in seen:  # one item with several matching parts is one candidate
                seen[int(rk)] = Candidate(int(rk), int(sid), path, item_url(self.machine_identifier, int(rk)))
        return sorted(seen.values(), key=lambda c: (order.get(c.section_id, 1 << 30), c.rating_key))

    def lookup(self, plex_path_key: str, section_ids: Iterable[int] | None = None) -> list[Candidate]:
        """Items with a part at this Plex path (normalised here too, so a raw path also works)."""
        return self._rows("path_key", normalise_path(plex_path_key), section_ids)

    def lookup_basename(self, path_or_name: str, section_ids: Iterable[int] | None = None) -> list[Candidate]:
        return self._rows("base_key", basename_key(path_or_name), section_ids)

    def candidates_for_rating_key(self, rk: int) -> list[Candidate]:
        """The indexed parts of one item (one Candidate per part path) in the configured sections."""
        rows = self._select("rating_key", int(rk), None, "plex_path")
        return [Candidate(int(r), int(sid), p, item_url(self.machine_identifier, int(r))) for r, sid, p in rows]
