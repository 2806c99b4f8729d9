"""The managed_collections table: which Plex collections PlexSync created, per library section.

The scene_collections table (also here) keeps each scene's collection state hash, so a scene edit that
changes nothing about its collections marks nothing to check (and costs no Plex request).
A collection is "managed" only when PlexSync put its name on an item first; a collection the user made in
Plex is never in this table, so it is never changed or removed. Rows are keyed by their Stash source
('studio:12'), so a rename in Stash finds the row and renames the one Plex collection. Statement-level
helpers: they join the caller's transaction.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class ManagedCollection:
    section_id: int
    source: str
    name: str
    rating_key: int | None
    summary: str | None
    image_url: str | None
    applied: str | None
    ordered: bool
    order_hash: str | None
    dirty: bool


def _row(row: sqlite3.Row) -> ManagedCollection:
    return ManagedCollection(int(row["section_id"]), row["source"], row["name"], row["rating_key"], row["summary"],
                             row["image_url"], row["applied"], bool(row["ordered"]), row["order_hash"],
                             bool(row["dirty"]))


def in_section(conn: sqlite3.Connection, section_id: int) -> list[ManagedCollection]:
    rows = conn.execute("SELECT * FROM managed_collections WHERE section_id = ? ORDER BY name", (section_id,))
    return [_row(r) for r in rows]


def all_rows(conn: sqlite3.Connection) -> list[ManagedCollection]:
    return [_row(r) for r in conn.execute("SELECT * FROM managed_collections ORDER BY section_id, name")]


def exists(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM managed_collections LIMIT 1").fetchone() is not None


def dirty_rows(conn: sqlite3.Connection) -> list[ManagedCollection]:
    rows = conn.execute("SELECT * FROM managed_collections WHERE dirty = 1 ORDER BY section_id, name")
    return [_row(r) for r in rows]


def get(conn: sqlite3.Connection, section_id: int, source: str) -> ManagedCollection | None:
    row = conn.execute("SELECT * FROM managed_collections WHERE section_id = ? AND source = ?",
                       (section_id, source)).fetchone()
    return _row(row) if row else None


def upsert_wanted(conn: sqlite3.Connection, section_id: int, source: str, name: str, summary: str | None,
                  image_url: str | None, ordered: bool, mark_dirty: bool) -> None:
    """Record what a scene says this collection should be; new rows start dirty (checked on flush)."""
    conn.execute(
        "INSERT INTO managed_collections(section_id, source, name, summary, image_url, ordered, dirty) "
        "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT(section_id, source) DO UPDATE SET "
        "name = excluded.name, summary = excluded.summary, image_url = excluded.image_url, "
        "ordered = excluded.ordered, dirty = CASE WHEN ? THEN 1 ELSE dirty END",
        (section_id, source, name, summary, image_url, int(ordered), int(mark_dirty)))


def mark_dirty(conn: sqlite3.Connection, section_id: int, names: list[str]) -> None:
    for name in names:
        conn.execute("UPDATE managed_collections SET dirty = 1 WHERE section_id = ? AND name = ?",
                     (section_id, name))


def mark_all_dirty(conn: sqlite3.Connection) -> int:
    return conn.execute("UPDATE managed_collections SET dirty = 1").rowcount


def rename(conn: sqlite3.Connection, section_id: int, source: str, name: str) -> None:
    conn.execute("UPDATE managed_collections SET name = ? WHERE section_id = ? AND source = ?",
                 (name, section_id, source))


def record_applied(conn: sqlite3.Connection, section_id: int, source: str, *, rating_key: int | None,
                   applied: str | None, order_hash: str | None) -> None:
    """The collection now matches: remember its ratingKey and what was sent, and clear the dirty flag."""
    conn.execute("UPDATE managed_collections SET rating_key = ?, applied = ?, order_hash = ?, dirty = 0 "
                 "WHERE section_id = ? AND source = ?", (rating_key, applied, order_hash, section_id, source))


def forget(conn: sqlite3.Connection, section_id: int, source: str) -> None:
    conn.execute("DELETE FROM managed_collections WHERE section_id = ? AND source = ?", (section_id, source))


def scene_hash(conn: sqlite3.Connection, scene_id: int) -> str | None:
    row = conn.execute("SELECT hash FROM scene_collections WHERE scene_id = ?", (int(scene_id),)).fetchone()
    return row[0] if row else None


def set_scene_hash(conn: sqlite3.Connection, scene_id: int, value: str) -> None:
    conn.execute("INSERT INTO scene_collections(scene_id, hash) VALUES (?, ?) "
                 "ON CONFLICT(scene_id) DO UPDATE SET hash = excluded.hash", (int(scene_id), value))


def forget_scene_hashes(conn: sqlite3.Connection) -> None:
    """Rebuild: every scene's collections are checked again."""
    conn.execute("DELETE FROM scene_collections")
