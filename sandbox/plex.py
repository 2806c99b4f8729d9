"""Simulated Plex Media Server for tests, the demo and benchmarks.

Speaks enough of the PMS HTTP/XML protocol (see shared/reference/plex-api.md §1-6, §9) that the real
``plexapi`` client cannot tell it apart for everything PlexSync does: connect, list sections, page
through a section, find items by part file, read details with tags and field locks, edit fields/tags
with locks, upload posters and backgrounds, keep collections (sandbox/plex_collections.py). Faults (latency, down/up, N failures, hang) can be switched while running.

Layout (one job per class):
    LibraryStore     the state (sections, items, tag ids, file index, collections), thread-safe
    XmlRenderer      state -> PMS-shaped XML text (manual rendering: fast for 100k-item listings)
    EditPlan         parsed ``PUT /library/sections/{id}/all`` parameters
    FaultController  latency / fail-next / hang switches
    RequestLog       request log and counters (served at ``GET /sandbox/requests``)
    _PlexHandler     HTTP routing on top of http.server
    PlexSim          the public facade (see CONTRACT.md)
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from sandbox.capture import register_secret
from sandbox.plex_collections import COLLECTION_TYPE, Collection, CollectionStore

__all__ = ["PlexSim", "LibraryStore", "XmlRenderer", "EditPlan", "FaultController", "RequestLog",
           "HttpError", "TAG_KINDS", "MOVIE_TYPE"]

MOVIE_TYPE = "1"  # plexapi SEARCHTYPES['movie']
_LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"
_MEDIA_TAG_VERSION = "1700000000"
_VERSION = "1.40.0.7998-sandbox"


# --------------------------------------------------------------------------------------------------
# XML escaping
# --------------------------------------------------------------------------------------------------

def _build_attr_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {
        ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;",
        # Whitespace must be character references or an XML parser normalises it to spaces.
        ord("\n"): "&#10;", ord("\r"): "&#13;", ord("\t"): "&#9;",
    }
    # Characters XML 1.0 cannot carry at all are dropped (a real PMS never emits them either).
    for code in range(0x20):
        if code not in (9, 10, 13):
            table[code] = None
    for code in (0xFFFE, 0xFFFF):
        table[code] = None
    for code in range(0xD800, 0xE000):  # lone surrogates cannot be encoded as UTF-8
        table[code] = None
    return table


_ATTR_TABLE = _build_attr_table()


def xml_attr(value: Any) -> str:
    """Escape a value for use inside a double-quoted XML attribute."""
    return str(value).translate(_ATTR_TABLE)


def _attrs(pairs: Iterable[tuple[str, Any]]) -> str:
    """Render ``name="value"`` pairs, skipping None values."""
    return "".join(f' {name}="{xml_attr(value)}"' for name, value in pairs if value is not None)


# --------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TagKind:
    """One Plex tag type: edit-parameter name, item slot, XML element, listing truncation."""
    param: str          # name in edit params and filters: actor, genre, ...
    slot: str           # Item attribute
    element: str        # XML element: Role, Genre, ...
    plural: str         # key in snapshots / add_item kwargs
    listing_limit: int  # how many a section listing shows (real PMS truncates)


TAG_KINDS: dict[str, TagKind] = {k.param: k for k in (
    TagKind("genre", "genres", "Genre", "genres", 2),
    TagKind("country", "countries", "Country", "countries", 2),
    TagKind("collection", "collections", "Collection", "collections", 0),
    TagKind("label", "labels", "Label", "labels", 0),
    TagKind("director", "directors", "Director", "directors", 1),
    TagKind("writer", "writers", "Writer", "writers", 1),
    TagKind("producer", "producers", "Producer", "producers", 0),
    TagKind("actor", "roles", "Role", "actors", 3),
)}
_TAG_BY_PLURAL = {k.plural: k for k in TAG_KINDS.values()}
_TAG_BY_PLURAL["roles"] = TAG_KINDS["actor"]  # plexapi alias


def _parse_year(text: str) -> int | None:
    if text == "":
        return None
    return int(text)


def _parse_rating(text: str) -> float | None:
    if text == "":
        return None
    value = float(text)
    if not 0 <= value <= 10:
        raise ValueError("rating out of range")
    return value


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_date(text: str) -> str | None:
    if text == "":
        return None
    text = text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}[ T]", text) else text
    if not _DATE_RE.match(text):
        raise ValueError("date must be YYYY-MM-DD")
    time.strptime(text, "%Y-%m-%d")
    return text


def _parse_text(text: str) -> str | None:
    return text if text != "" else None


# Editable scalar fields: XML/edit name -> (Item slot, parser of the wire value).
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "title": ("title", lambda t: t),
    "titleSort": ("title_sort", _parse_text),
    "originalTitle": ("original_title", _parse_text),
    "studio": ("studio", _parse_text),
    "summary": ("summary", lambda t: t),
    "tagline": ("tagline", _parse_text),
    "contentRating": ("content_rating", _parse_text),
    "year": ("year", _parse_year),
    "originallyAvailableAt": ("originally_available_at", _parse_date),
    "userRating": ("user_rating", _parse_rating),
}
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class Item:
    """One movie. __slots__ and None-for-empty keep a 100,000-item library small."""
    __slots__ = ("rating_key", "section_key", "title", "title_sort", "original_title", "studio", "summary",
                 "tagline", "content_rating", "year", "originally_available_at", "user_rating", "_files",
                 "sizes", "genres", "countries", "collections", "labels", "directors", "writers", "producers",
                 "roles", "locked", "posters", "selected_poster", "thumb_ts", "added_at", "updated_at",
                 "extra", "arts")

    def __init__(self, rating_key: int, section_key: int, title: str, files: tuple[str, ...],
                 added_at: int) -> None:
        self.rating_key = rating_key
        self.section_key = section_key
        self.title = title
        self._files: str | tuple[str, ...] = files[0] if len(files) == 1 else files
        self.added_at = added_at
        self.updated_at = added_at
        self.summary = ""
        for name in ("title_sort", "original_title", "studio", "tagline", "content_rating", "year",
                     "originally_available_at", "user_rating", "sizes", "genres", "countries", "collections",
                     "labels", "directors", "writers", "producers", "roles", "locked", "posters",
                     "selected_poster", "thumb_ts", "extra", "arts"):
            setattr(self, name, None)

    @property
    def files(self) -> tuple[str, ...]:
        # One file is by far the common case: store the bare string (saves a tuple per item).
        return (self._files,) if isinstance(self._files, str) else self._files

    def tags(self, kind: TagKind) -> tuple[str, ...]:
        return getattr(self, kind.slot) or ()

    def set_tags(self, kind: TagKind, names: Iterable[str]) -> None:
        # Tag names repeat across items: intern them so 100k items share the strings.
        unique = tuple(dict.fromkeys(_intern(n) for n in names if n != ""))
        setattr(self, kind.slot, unique or None)

    def lock_names(self) -> frozenset[str]:
        return self.locked or frozenset()

    def set_lock(self, name: str, on: bool) -> None:
        names = set(self.lock_names())
        if on:
            names.add(_intern(name))
        else:
            names.discard(name)
        self.locked = frozenset(names) if names else None

    def bump(self) -> None:
        # Strictly increasing so "changed since" checks work even within one second.
        self.updated_at = max(int(time.time()), self.updated_at + 1)


# Date filters as plexapi builds them (library.py _validateFilterField): `filters={"addedAt>>": dt}`
# goes on the wire as `addedAt%3E%3E=<unix seconds>` (operator ">>=" minus its "=", url-encoded),
# `<<` likewise; a relative value such as `-30m` means "now minus 30 minutes". PMS's date operators are
# "is after" (>>=), "is before" (<<=), "is" (=) and "is not" (!=); after/before are strict.
_DATE_FIELDS = {"addedAt": "added_at", "updatedAt": "updated_at"}
_RELATIVE = re.compile(r"^-?(\d+)(mon|[smhdwy])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mon": 30 * 86400, "y": 365 * 86400}


def _date_value(raw: str) -> int:
    rel = _RELATIVE.match(raw.strip())
    if rel:
        return int(time.time()) - int(rel.group(1)) * _UNIT_SECONDS[rel.group(2)]
    try:
        return int(float(raw))
    except ValueError:
        raise HttpError(400, f"bad date filter value {raw!r}") from None


def _date_term(name: str, raw: str) -> tuple[str, str, int] | None:
    field = name.rstrip("<>!")
    op = name[len(field):]
    slot = _DATE_FIELDS.get(field)
    if slot is None or op not in (">>", "<<", "", "!"):
        return None
    return slot, op, _date_value(raw)


_DATE_OPS = {">>": lambda a, b: a > b, "<<": lambda a, b: a < b, "": lambda a, b: a == b,
             "!": lambda a, b: a != b}


def _date_expression(pairs: list[tuple[str, str]]) -> list[Any]:
    """The date filters of a query in order, with plexapi's advanced-search grouping: `push=1` opens a
    group, `pop=1` closes it, `or=1` joins its neighbours by OR (terms are ANDed otherwise).
    Returns a nested list of terms and "or" markers; other parameters are not part of it."""
    stack: list[list[Any]] = [[]]
    for name, raw in pairs:
        if name == "push":
            stack.append([])
        elif name == "pop" and len(stack) > 1:
            group = stack.pop()
            stack[-1].append(group)
        elif name in ("or", "and"):
            stack[-1].append(name)
        else:
            term = _date_term(name, raw)
            if term is not None:
                stack[-1].append(term)
    while len(stack) > 1:
        group = stack.pop()
        stack[-1].append(group)
    return stack[0]


def _matches(item: "Item", expr: list[Any]) -> bool:
    """OR of AND-runs: a run ends at each "or" marker."""
    runs: list[bool] = []
    current = True
    for part in expr:
        if part == "or":
            runs.append(current)
            current = True
        elif part == "and":
            continue
        elif isinstance(part, list):
            current = current and _matches(item, part)
        else:
            slot, op, value = part
            current = current and _DATE_OPS[op](getattr(item, slot), value)
    runs.append(current)
    return any(runs)


def _date_filtered(items: dict[int, "Item"], keys: list[int], pairs: list[tuple[str, str]]) -> list[int]:
    expr = _date_expression(pairs)
    if not expr:
        return keys
    return [rk for rk in keys if _matches(items[rk], expr)]


def _intern(text: str) -> str:
    return sys.intern(text)


def _seed_value(name: str, value: Any) -> Any:
    """Python-side value (str, int, float, date or None) -> stored value for field `name`."""
    if value is None:
        return "" if name == "summary" else None
    if name == "year":
        return _small_int(int(value))
    if name == "userRating":
        return float(value)
    if name == "originallyAvailableAt" and not isinstance(value, str):
        return value.strftime("%Y-%m-%d")
    if name == "summary":
        return str(value)
    parsed = _FIELDS[name][1](str(value))
    # Values that repeat across a library (studio, dates, ratings) share one string object.
    return _intern(parsed) if name in _SHARED_TEXT and parsed is not None else parsed


_SHARED_TEXT = {"studio", "originallyAvailableAt", "contentRating"}
_INT_CACHE: dict[int, int] = {}


def _small_int(value: int) -> int:
    """Years repeat: share one int object per value instead of one per item."""
    if 0 <= value < 10000:
        return _INT_CACHE.setdefault(value, value)
    return value


class Section:
    __slots__ = ("key", "title", "locations", "uuid", "created_at", "item_keys")

    def __init__(self, key: int, title: str, locations: tuple[str, ...], created_at: int) -> None:
        self.key = key
        self.title = title
        self.locations = locations
        self.uuid = f"{key:08x}-5a4d-4000-8000-{hashlib.sha1(title.encode()).hexdigest()[:12]}"
        self.created_at = created_at
        self.item_keys: list[int] = []  # insertion order; listing pages are slices (no O(N^2))


class HttpError(Exception):
    """Raised by store/handlers to answer with a plain HTTP error."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or HTTPStatus(status).phrase)
        self.status = status


@dataclass
class EditPlan:
    """Parsed parameters of ``PUT /library/sections/{id}/all`` (keys and values already decoded once)."""
    type: str | None = None
    ids: list[int] | None = None
    values: dict[str, Any] = field(default_factory=dict)       # XML field name -> parsed value
    extra_values: dict[str, str] = field(default_factory=dict)  # unknown fields, kept verbatim
    locks: dict[str, bool] = field(default_factory=dict)
    tag_sets: dict[str, dict[int, str]] = field(default_factory=dict)
    tag_removals: dict[str, list[str]] = field(default_factory=dict)
    tag_thumbs: dict[str, dict[int, str]] = field(default_factory=dict)  # actor[i].tag.thumb (a URL)

    _VALUE_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\.value$")
    _LOCK_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\.locked$")
    _TAG_SET_RE = re.compile(r"^([A-Za-z]+)\[(\d+)\]\.tag\.tag$")
    _TAG_REMOVE_RE = re.compile(r"^([A-Za-z]+)\[\]\.tag\.tag-$")
    _TAG_THUMB_RE = re.compile(r"^([A-Za-z]+)\[(\d+)\]\.tag\.thumb$")

    @classmethod
    def parse(cls, pairs: list[tuple[str, str]]) -> "EditPlan":
        """Build a plan; raises HttpError(400) on malformed values."""
        plan = cls()
        for key, value in pairs:
            if key == "type":
                plan.type = value
            elif key == "id":
                try:
                    plan.ids = [int(part) for part in value.split(",") if part.strip() != ""]
                except ValueError:
                    raise HttpError(400, f"bad id {value!r}") from None
            elif m := cls._VALUE_RE.match(key):
                plan._add_value(m.group(1), value)
            elif m := cls._LOCK_RE.match(key):
                if value not in ("0", "1", "true", "false"):
                    raise HttpError(400, f"bad lock value for {key}")
                plan.locks[m.group(1)] = value in ("1", "true")
            elif m := cls._TAG_SET_RE.match(key):
                plan.tag_sets.setdefault(m.group(1), {})[int(m.group(2))] = value
            elif m := cls._TAG_REMOVE_RE.match(key):
                # plexapi quote()s each name, joins with ',' and the whole value is encoded again:
                # after the first decode (by parse_qsl) split on ',' then decode each name.
                names = [unquote(part) for part in value.split(",") if part != ""]
                plan.tag_removals.setdefault(m.group(1), []).extend(names)
            elif m := cls._TAG_THUMB_RE.match(key):
                plan.tag_thumbs.setdefault(m.group(1), {})[int(m.group(2))] = value
            # Everything else (X-Plex-* params, includeExternalMedia, actor[0].tag.thumb, ...) is ignored.
        return plan

    def _add_value(self, name: str, raw: str) -> None:
        spec = _FIELDS.get(name)
        if spec is None:
            self.extra_values[name] = raw
            return
        try:
            self.values[name] = spec[1](raw)
        except ValueError:
            raise HttpError(400, f"bad value for {name}") from None


class LibraryStore:
    """All library state behind one lock. Public methods are thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sections: dict[int, Section] = {}
        self.items: dict[int, Item] = {}
        self._file_index: dict[str, int | list[int]] = {}
        self._tag_ids: dict[str, dict[str, int]] = {kind: {} for kind in TAG_KINDS}
        self._next_tag_id = 1000
        self._next_rating_key = 1001
        self._next_section_key = 1
        self._last_stamp = 0
        self.collection_kind = TAG_KINDS["collection"]
        self.collections = CollectionStore(self)
        self.uploads: dict[str, bytes] = {}
        self.actor_thumbs: dict[str, str] = {}  # actor name -> photo URL (PMS keeps one per person)  # sha1 -> uploaded image bytes (tests read their dimensions)

    def new_rating_key(self) -> int:
        rk = self._next_rating_key
        self._next_rating_key += 1
        return rk

    @staticmethod
    def now() -> int:
        return int(time.time())

    # ---- seeding -------------------------------------------------------------------------------
    def add_section(self, title: str, locations: list[str], key: int | None = None) -> int:
        with self.lock:
            if key is None:
                key = self._next_section_key
            if key in self.sections:
                raise ValueError(f"section {key} exists")
            self._next_section_key = max(self._next_section_key, key + 1)
            self.sections[key] = Section(key, title, tuple(locations), int(time.time()))
            return key

    def add_item(self, section_key: int, title: str, files: list[str], **fields: Any) -> int:
        with self.lock:
            section = self.sections.get(section_key)
            if section is None:
                raise KeyError(f"no section {section_key}")
            rating_key = fields.pop("rating_key", None)
            if rating_key is None:
                rating_key = self._next_rating_key
            elif rating_key in self.items:
                raise ValueError(f"ratingKey {rating_key} exists")
            self._next_rating_key = max(self._next_rating_key, rating_key + 1)
            added_at = int(fields.pop("added_at", None) or time.time())
            if added_at == self._last_stamp:  # share one int object across a seeding burst
                added_at = self._last_stamp
            self._last_stamp = added_at
            item = Item(rating_key, section_key, title, tuple(files), added_at)
            self._apply_seed_fields(item, fields)
            self.items[rating_key] = item
            section.item_keys.append(rating_key)
            for path in item.files:
                self._index_file(path, rating_key)
            return rating_key

    def _apply_seed_fields(self, item: Item, fields: dict[str, Any]) -> None:
        updated_at = fields.pop("updated_at", None)
        for name, value in fields.items():
            if name in _FIELDS:
                setattr(item, _FIELDS[name][0], _seed_value(name, value))
            elif name in _TAG_BY_PLURAL:
                kind = _TAG_BY_PLURAL[name]
                before = item.tags(kind)
                item.set_tags(kind, value or ())
                if kind is self.collection_kind:
                    self.collections.item_tags_changed(item, before)
            elif name == "locked":
                item.locked = frozenset(_intern(n) for n in value) or None
            elif name == "poster_bytes":
                if value:
                    self._add_poster(item, "upload://posters/" + hashlib.sha1(value).hexdigest())
            elif name == "file_sizes":
                item.sizes = tuple(int(s) for s in value) or None
            elif name == "extra":
                item.extra = dict(value) or None
            else:
                raise TypeError(f"unknown item field {name!r}")
        if updated_at is not None:
            item.updated_at = int(updated_at)

    def _index_file(self, path: str, rating_key: int) -> None:
        current = self._file_index.get(path)
        if current is None:
            self._file_index[path] = rating_key
        elif isinstance(current, int):
            self._file_index[path] = [current, rating_key]
        else:
            current.append(rating_key)

    def remove_item(self, rating_key: int) -> None:
        with self.lock:
            item = self.items.pop(rating_key)
            self.sections[item.section_key].item_keys.remove(rating_key)
            self.collections.remove_section_item(rating_key)
            for path in item.files:
                current = self._file_index.get(path)
                if current == rating_key:
                    del self._file_index[path]
                elif isinstance(current, list):
                    current.remove(rating_key)
                    if len(current) == 1:
                        self._file_index[path] = current[0]

    # ---- reading -------------------------------------------------------------------------------
    def get(self, rating_key: int) -> Item:
        item = self.items.get(rating_key)
        if item is None:
            raise HttpError(404, f"no item {rating_key}")
        return item

    def section(self, key: int) -> Section:
        section = self.sections.get(key)
        if section is None:
            raise HttpError(404, f"no section {key}")
        return section

    def tag_id(self, kind: str, name: str) -> int:
        ids = self._tag_ids[kind]
        tag_id = ids.get(name)
        if tag_id is None:
            tag_id = ids[name] = self._next_tag_id
            self._next_tag_id += 1
        return tag_id

    def query_items(self, section_keys: list[int], filters: dict[str, str],
                    pairs: list[tuple[str, str]] | None = None) -> list[int]:
        """Rating keys of a listing, in order. Unknown filters are ignored, as PMS does."""
        libtype = filters.get("type")
        if libtype not in (None, "", MOVIE_TYPE):
            return []
        path = filters.get("file")
        if path is not None:
            # Exact Part.file match through the index: one lookup, no scan.
            hit = self._file_index.get(path)
            hits = [hit] if isinstance(hit, int) else list(hit or ())
            keys = sorted(rk for rk in hits if self.items[rk].section_key in section_keys)
        elif len(section_keys) == 1:
            keys = self.sections[section_keys[0]].item_keys
        else:
            keys = [rk for sk in section_keys for rk in self.sections[sk].item_keys]
        keys = _date_filtered(self.items, keys, pairs if pairs is not None else list(filters.items()))
        title = filters.get("title")
        if title:
            needle = title.casefold()
            keys = [rk for rk in keys if needle in self.items[rk].title.casefold()]
        sort = filters.get("sort")
        if sort:
            keys = self._sorted(keys, sort)
        return keys

    def add_item_again(self, rating_key: int, **fields: Any) -> int:
        """What Plex does after a move on its side, an emptied trash or a rebuilt library: the item is
        deleted and its file added again as a new item with a new ratingKey and a new addedAt."""
        with self.lock:
            old = self.get(rating_key)
            title, section_key, files = old.title, old.section_key, list(old.files)
            fields.setdefault("added_at", max(int(time.time()), old.updated_at + 1))  # later than all it was
            self.remove_item(rating_key)
            return self.add_item(section_key, fields.pop("title", title), files, **fields)

    _SORT_SLOTS = {"titleSort": "title_sort", "title": "title", "addedAt": "added_at",
                   "updatedAt": "updated_at", "year": "year", "originallyAvailableAt": "originally_available_at",
                   "userRating": "user_rating", "ratingKey": "rating_key"}

    def _sorted(self, keys: list[int], sort: str) -> list[int]:
        name, _, direction = sort.partition(":")
        slot = self._SORT_SLOTS.get(name)
        if slot is None:
            return keys
        items = self.items

        def sort_key(rk: int) -> tuple[bool, Any]:
            value = getattr(items[rk], slot)
            if slot == "title_sort" and value is None:
                value = items[rk].title
            if isinstance(value, str):
                value = value.casefold()
            return (value is None, value if value is not None else 0)

        return sorted(keys, key=sort_key, reverse=direction == "desc")

    # ---- editing -------------------------------------------------------------------------------
    def apply_edit(self, section_key: int, plan: EditPlan) -> int:
        """Apply a PUT edit to the items it names; returns how many items changed."""
        with self.lock:
            section = self.section(section_key)
            if not plan.type:
                raise HttpError(400, "type is required")
            if plan.type == COLLECTION_TYPE:
                return self.collections.apply_edit(section_key, plan.ids, plan.values, plan.locks)
            if plan.ids is None:
                targets = [self.items[rk] for rk in section.item_keys] if plan.type == MOVIE_TYPE else []
            else:
                targets = []
                for rk in plan.ids:
                    item = self.items.get(rk)
                    if item is None or item.section_key != section_key:
                        raise HttpError(404, f"no item {rk} in section {section_key}")
                    targets.append(item)
                if plan.type != MOVIE_TYPE:
                    raise HttpError(400, f"type {plan.type} does not match the items")
            for item in targets:
                self._apply_plan(item, plan)
            return len(targets)

    def _apply_plan(self, item: Item, plan: EditPlan) -> None:
        collections_before = item.tags(self.collection_kind)
        for name, value in plan.values.items():
            setattr(item, _FIELDS[name][0], value if value is not None or name != "summary" else "")
        for name, raw in plan.extra_values.items():
            extra = item.extra or {}
            if raw == "":
                extra.pop(name, None)
            elif name not in ("thumb", "art"):  # poster/art are chosen via their own endpoints
                extra[name] = raw
            item.extra = extra or None
        for param, indexed in plan.tag_sets.items():
            kind = TAG_KINDS.get(param)
            if kind is not None:
                item.set_tags(kind, [indexed[i] for i in sorted(indexed)])
        for param, thumbs in plan.tag_thumbs.items():
            # An actor's photo is one per person in PMS's tag table: the last URL set shows on every item.
            indexed = plan.tag_sets.get(param, {})
            for i, url in thumbs.items():
                if param == "actor" and i in indexed:
                    self.actor_thumbs[_intern(indexed[i])] = url
        for param, names in plan.tag_removals.items():
            kind = TAG_KINDS.get(param)
            if kind is not None:
                drop = set(names)
                item.set_tags(kind, [n for n in item.tags(kind) if n not in drop])
        for name, on in plan.locks.items():
            item.set_lock(name, on)
        if item.tags(self.collection_kind) != collections_before:
            self.collections.item_tags_changed(item, collections_before)
        item.bump()

    def edit_item(self, rating_key: int, respect_locks: bool = False, **fields: Any) -> None:
        """Change an item as Plex itself would (a user in Plex Web, or an agent refresh when
        respect_locks=True, which leaves locked fields alone)."""
        with self.lock:
            item = self.get(rating_key)
            locked = item.lock_names()
            for name, value in list(fields.items()):
                lock_name = _TAG_BY_PLURAL[name].param if name in _TAG_BY_PLURAL else name
                if respect_locks and lock_name in locked:
                    del fields[name]
            if "locked" in fields:
                fields["locked"] = set(fields["locked"])
            self._apply_seed_fields(item, fields)
            item.bump()

    def rate(self, rating_key: int, rating: str) -> None:
        with self.lock:
            item = self.get(rating_key)
            try:
                value = float(rating)
            except ValueError:
                raise HttpError(400, "bad rating") from None
            item.user_rating = None if value < 0 else min(value, 10.0)
            item.bump()

    # ---- posters -------------------------------------------------------------------------------
    def _add_poster(self, item: Item, poster_key: str) -> None:
        posters = [p for p in (item.posters or ()) if p != poster_key]
        posters.append(poster_key)
        item.posters = tuple(posters)
        item.selected_poster = poster_key
        item.bump()
        item.thumb_ts = item.updated_at

    def _upload_key(self, what: str, body: bytes, url: str | None) -> str:
        if url:
            return url
        if not body:
            raise HttpError(400, f"no {what} data")
        digest = hashlib.sha1(body).hexdigest()
        self.uploads[digest] = bytes(body)
        return f"upload://{what}s/{digest}"

    def upload_art(self, rating_key: int, body: bytes, url: str | None) -> str:
        """POST /library/metadata/{rk}/arts: store, select and lock the background (items and collections)."""
        with self.lock:
            key = self._upload_key("art", body, url)
            if rating_key in self.collections.by_key:
                self.collections.upload(rating_key, "art", key)
                return key
            item = self.get(rating_key)
            item.arts = tuple([a for a in (item.arts or ()) if a != key] + [key])  # the last one is selected
            item.set_lock("art", True)
            item.bump()
            return key

    def upload_poster(self, rating_key: int, body: bytes, url: str | None) -> str:
        """Store an uploaded poster (raw bytes, or a URL we never fetch), select it and lock thumb."""
        with self.lock:
            key = self._upload_key("poster", body, url)
            if rating_key in self.collections.by_key:
                self.collections.upload(rating_key, "poster", key)
                return key
            item = self.get(rating_key)
            self._add_poster(item, key)
            item.set_lock("thumb", True)
            return key

    def select_poster(self, rating_key: int, url: str) -> None:
        with self.lock:
            item = self.get(rating_key)
            self._add_poster(item, url)
            item.set_lock("thumb", True)

    def delete_poster(self, rating_key: int) -> None:
        with self.lock:
            item = self.get(rating_key)
            item.selected_poster = None
            item.thumb_ts = None
            item.bump()

    # ---- snapshots -----------------------------------------------------------------------------
    def snapshot(self, rating_key: int) -> dict[str, Any]:
        with self.lock:
            item = self.items.get(rating_key)
            if item is None:
                raise KeyError(rating_key)
            snap: dict[str, Any] = {"rating_key": item.rating_key, "section_key": item.section_key}
            for name, (slot, _parser) in _FIELDS.items():
                snap[name] = getattr(item, slot)
            for kind in TAG_KINDS.values():
                snap[kind.plural] = list(item.tags(kind))
            selected = item.selected_poster
            snap.update({
                "locked": set(item.lock_names()),
                "poster": selected,
                "poster_sha1": selected.rsplit("/", 1)[1]
                if selected and selected.startswith("upload://posters/") else None,
                "posters": list(item.posters or ()),
                "thumb": _thumb(item),
                "added_at": item.added_at,
                "updated_at": item.updated_at,
                "files": list(item.files),
                "extra": dict(item.extra or {}),
                "art": item.arts[-1] if item.arts else None,
                "arts": list(item.arts or ()),
            })
            return snap


def _thumb(item: Item) -> str | None:
    return f"/library/metadata/{item.rating_key}/thumb/{item.thumb_ts}" if item.thumb_ts is not None else None


# --------------------------------------------------------------------------------------------------
# XML rendering
# --------------------------------------------------------------------------------------------------

_CONTAINERS = {"mp4": "mp4", "m4v": "mp4", "mkv": "mkv", "avi": "avi", "wmv": "asf", "mov": "mov",
               "webm": "webm", "flv": "flv", "ts": "mpegts", "mpg": "mpeg", "mpeg": "mpeg"}


_TRAILING_ATTRS = {"thumb", "art", "addedAt", "updatedAt", "librarySectionID", "librarySectionKey",
                   "librarySectionTitle"}


class XmlRenderer:
    """Renders PMS-shaped XML. Callers hold the store lock while rendering items."""

    def __init__(self, store: LibraryStore, machine_identifier: str, friendly_name: str) -> None:
        self.store = store
        self.machine_identifier = machine_identifier
        self.friendly_name = friendly_name
        self.started_at = int(time.time())

    @staticmethod
    def document(container_attrs: list[tuple[str, Any]], children: Iterable[str] = ()) -> bytes:
        body = "".join(children)
        head = f'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer{_attrs(container_attrs)}'
        text = f"{head}>\n{body}</MediaContainer>\n" if body else f"{head}/>\n"
        return text.encode("utf-8")

    def root(self) -> bytes:
        return self.document([
            ("size", 0), ("allowCameraUpload", 0), ("allowChannelAccess", 1), ("allowMediaDeletion", 1),
            ("allowSharing", 1), ("allowSync", 1), ("backgroundProcessing", 1), ("certificate", 0),
            ("companionProxy", 1), ("friendlyName", self.friendly_name), ("machineIdentifier",
            self.machine_identifier), ("multiuser", 1), ("myPlex", 0), ("platform", "Linux"),
            ("platformVersion", "6.1"), ("transcoderActiveVideoSessions", 0), ("updatedAt", self.started_at),
            ("version", _VERSION)])

    def identity(self) -> bytes:
        return self.document([("size", 0), ("claimed", 0), ("machineIdentifier", self.machine_identifier),
                              ("version", _VERSION)])

    def library(self) -> bytes:
        return self.document(
            [("size", 3), ("allowSync", 0), ("identifier", _LIBRARY_IDENTIFIER),
             ("mediaTagPrefix", "/system/bundle/media/flags/"), ("mediaTagVersion", _MEDIA_TAG_VERSION),
             ("title1", "Plex Library"), ("title2", "")],
            ['<Directory key="sections" title="Library Sections"/>\n',
             '<Directory key="recentlyAdded" title="Recently Added Content"/>\n',
             '<Directory key="onDeck" title="On Deck Content"/>\n'])

    def sections(self) -> bytes:
        children = []
        for section in self.store.sections.values():
            locations = "".join(f'<Location{_attrs([("id", section.key * 100 + i), ("path", path)])}/>'
                                for i, path in enumerate(section.locations, 1))
            attrs = _attrs([
                ("allowSync", 1), ("key", section.key), ("type", "movie"), ("title", section.title),
                ("agent", "tv.plex.agents.movie"), ("scanner", "Plex Movie"), ("language", "en-US"),
                ("uuid", section.uuid), ("filters", 1), ("refreshing", 0), ("createdAt", section.created_at),
                ("updatedAt", section.created_at), ("scannedAt", section.created_at), ("content", 1),
                ("directory", 1), ("hidden", 0)])
            children.append(f"<Directory{attrs}>{locations}</Directory>\n")
        return self.document([("size", len(children)), ("allowSync", 0), ("identifier", _LIBRARY_IDENTIFIER),
                              ("title1", "Plex Library")], children)

    def listing(self, section: Section | None, page: list[int], total: int, offset: int) -> bytes:
        """A section (or /library/all) listing page: truncated tags, no Field locks."""
        items = self.store.items
        attrs: list[tuple[str, Any]] = [("size", len(page)), ("totalSize", total), ("offset", offset),
                                        ("allowSync", 1), ("identifier", _LIBRARY_IDENTIFIER)]
        if section is not None:
            attrs += [("librarySectionID", section.key), ("librarySectionTitle", section.title),
                      ("librarySectionUUID", section.uuid)]
        attrs += [("mediaTagPrefix", "/system/bundle/media/flags/"), ("mediaTagVersion", _MEDIA_TAG_VERSION),
                  ("title1", section.title if section else "All Libraries"), ("title2", "All Movies"),
                  ("viewGroup", "movie")]
        return self.document(attrs, (self.video(items[rk], detail=False, section_attrs=section is None)
                                     for rk in page))

    def metadata(self, page: list[int], total: int, offset: int) -> bytes:
        items = [self.store.items[rk] for rk in page]
        attrs: list[tuple[str, Any]] = [("size", len(items)), ("totalSize", total), ("offset", offset),
                                        ("allowSync", 1), ("identifier", _LIBRARY_IDENTIFIER)]
        section_keys = {item.section_key for item in items}
        if len(section_keys) == 1:  # plexapi copies a container librarySectionID onto every item
            section = self.store.sections[section_keys.pop()]
            attrs += [("librarySectionID", section.key), ("librarySectionTitle", section.title),
                      ("librarySectionUUID", section.uuid)]
        attrs += [("mediaTagPrefix", "/system/bundle/media/flags/"), ("mediaTagVersion", _MEDIA_TAG_VERSION)]
        return self.document(attrs, (self.video(item, detail=True, section_attrs=True) for item in items))

    def video(self, item: Item, detail: bool, section_attrs: bool) -> str:
        rk = item.rating_key
        attrs: list[tuple[str, Any]] = [
            ("ratingKey", rk), ("key", f"/library/metadata/{rk}"), ("guid", f"plex://movie/5d7768{rk:018x}"),
            ("type", "movie"), ("title", item.title), ("titleSort", item.title_sort),
            ("originalTitle", item.original_title), ("studio", item.studio),
            ("contentRating", item.content_rating),
            ("summary", item.summary), ("tagline", item.tagline), ("year", item.year),
            ("originallyAvailableAt", item.originally_available_at),
            ("userRating", item.user_rating)]
        if section_attrs:
            section = self.store.sections[item.section_key]
            attrs += [("librarySectionID", section.key),
                      ("librarySectionKey", f"/library/sections/{section.key}"),
                      ("librarySectionTitle", section.title)]
        if item.extra:  # unknown edited fields; never let them duplicate a standard attribute
            taken = {name for name, _ in attrs} | _TRAILING_ATTRS
            attrs += [(name, value) for name, value in item.extra.items()
                      if _NAME_RE.match(name) and name not in taken]
        art = f"/library/metadata/{rk}/art/{item.arts[-1].rsplit('/', 1)[-1][:10]}" if item.arts else None
        attrs += [("thumb", _thumb(item)), ("art", art), ("addedAt", item.added_at), ("updatedAt", item.updated_at)]
        parts = [f"<Video{_attrs(attrs)}>"]
        for index, path in enumerate(item.files):
            part_id = rk * 16 + index  # derived, never stored
            ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
            container = _CONTAINERS.get(ext, ext or None)
            size = item.sizes[index] if item.sizes and index < len(item.sizes) else None
            part_key = f"/library/parts/{part_id}/{item.added_at}/file.{ext or 'bin'}"
            part = _attrs([("id", part_id), ("key", part_key), ("file", path), ("size", size),
                           ("container", container)])
            parts.append(f'<Media{_attrs([("id", part_id), ("container", container)])}><Part{part}/></Media>')
        for kind in TAG_KINDS.values():
            names = item.tags(kind)
            if not detail:
                names = names[:kind.listing_limit]
            for name in names:
                if detail:
                    tag_id = self.store.tag_id(kind.param, name)
                    thumb = self.store.actor_thumbs.get(name) if kind.param == "actor" else None
                    extra = f' thumb="{xml_attr(thumb)}"' if thumb else ""
                    parts.append(f'<{kind.element} id="{tag_id}" filter="{kind.param}={tag_id}"'
                                 f' tag="{xml_attr(name)}"{extra}/>')
                else:
                    parts.append(f'<{kind.element} tag="{xml_attr(name)}"/>')
        if detail:
            parts.extend(f'<Field locked="1" name="{xml_attr(name)}"/>' for name in sorted(item.lock_names()))
        parts.append("</Video>\n")
        return "".join(parts)

    def collection(self, coll: Collection, detail: bool, preferences: bool = False) -> str:
        section = self.store.sections[coll.section_key]
        rk = coll.rating_key
        members = self.store.collections.members(coll)
        years = [self.store.items[m].year for m in members if self.store.items[m].year]
        attrs: list[tuple[str, Any]] = [
            ("ratingKey", rk), ("key", f"/library/metadata/{rk}/children"), ("guid", coll.guid),
            ("type", "collection"), ("title", coll.title), ("titleSort", coll.title_sort),
            ("librarySectionTitle", section.title), ("librarySectionID", section.key),
            ("librarySectionKey", f"/library/sections/{section.key}"), ("contentRating", None),
            ("subtype", "movie"), ("summary", coll.summary), ("index", rk), ("smart", 0),
            ("collectionSort", coll.collection_sort) if coll.collection_sort else ("collectionSort", None),
            ("collectionMode", coll.collection_mode) if coll.collection_mode != -1 else ("collectionMode", None),
            ("thumb", f"/library/metadata/{rk}/thumb/{coll.thumb_ts}" if coll.thumb_ts else None),
            ("art", f"/library/metadata/{rk}/art/{coll.art_ts}" if coll.art_ts else None),
            ("addedAt", coll.added_at), ("updatedAt", coll.updated_at), ("childCount", len(members)),
            ("maxYear", max(years) if years else None), ("minYear", min(years) if years else None)]
        if not detail:
            return f"<Directory{_attrs(attrs)}/>\n"
        fields = "".join(f'<Field locked="1" name="{xml_attr(n)}"/>' for n in sorted(coll.locked))
        if preferences:  # ?includePreferences=1: what plexapi's preferences() / editAdvanced() read
            fields += (
                '<Preferences>'
                f'<Setting id="collectionMode" label="Collection mode" type="int" default="-1" '
                f'value="{coll.collection_mode}" enumValues="-1:Library default|0:Hide collection|'
                f'1:Hide items in this collection|2:Show this collection and its items"/>'
                f'<Setting id="collectionSort" label="Collection sort" type="int" default="0" '
                f'value="{coll.collection_sort}" enumValues="0:Release date|1:Alphabetical|2:Custom"/>'
                '</Preferences>')
        return f"<Directory{_attrs(attrs)}>{fields}</Directory>\n"

    def collections(self, section: Section, page: list[Collection], total: int, offset: int) -> bytes:
        attrs: list[tuple[str, Any]] = [
            ("size", len(page)), ("totalSize", total), ("offset", offset), ("allowSync", 0),
            ("identifier", _LIBRARY_IDENTIFIER), ("librarySectionID", section.key),
            ("librarySectionTitle", section.title), ("librarySectionUUID", section.uuid),
            ("mediaTagPrefix", "/system/bundle/media/flags/"), ("mediaTagVersion", _MEDIA_TAG_VERSION),
            ("title1", section.title), ("title2", "All Collections"), ("viewGroup", "collection")]
        return self.document(attrs, (self.collection(c, detail=False) for c in page))

    def collection_metadata(self, coll: Collection, preferences: bool = False) -> bytes:
        section = self.store.sections[coll.section_key]
        attrs: list[tuple[str, Any]] = [
            ("size", 1), ("allowSync", 0), ("identifier", _LIBRARY_IDENTIFIER),
            ("librarySectionID", section.key), ("librarySectionTitle", section.title),
            ("librarySectionUUID", section.uuid), ("mediaTagPrefix", "/system/bundle/media/flags/"),
            ("mediaTagVersion", _MEDIA_TAG_VERSION)]
        return self.document(attrs, [self.collection(coll, detail=True, preferences=preferences)])

    def children(self, coll: Collection, page: list[int], total: int, offset: int) -> bytes:
        section = self.store.sections[coll.section_key]
        attrs: list[tuple[str, Any]] = [
            ("size", len(page)), ("totalSize", total), ("offset", offset), ("allowSync", 1),
            ("identifier", _LIBRARY_IDENTIFIER), ("key", coll.rating_key), ("librarySectionID", section.key),
            ("librarySectionTitle", section.title), ("librarySectionUUID", section.uuid),
            ("mediaTagPrefix", "/system/bundle/media/flags/"), ("mediaTagVersion", _MEDIA_TAG_VERSION),
            ("title1", section.title), ("title2", coll.title), ("viewGroup", "movie")]
        return self.document(attrs, (self.video(self.store.items[rk], detail=False, section_attrs=True)
                                     for rk in page))

    def posters(self, item: Item) -> bytes:
        children = []
        for key in item.posters or ():
            url = f"/library/metadata/{item.rating_key}/file?url={quote(key, safe='')}"
            attrs = _attrs([("key", url), ("ratingKey", key), ("selected", int(key == item.selected_poster)),
                            ("thumb", url)])
            children.append(f"<Photo{attrs}/>\n")
        return self.document([("size", len(children)), ("identifier", _LIBRARY_IDENTIFIER)], children)


# --------------------------------------------------------------------------------------------------
# Faults and request log
# --------------------------------------------------------------------------------------------------

class FaultController:
    """Thread-safe fault switches consulted by every (non-sandbox) request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency_s = 0.0
        self._fail_remaining = 0
        self._fail_status = 500
        self._fail_method: str | None = None
        self._released = threading.Event()  # set while NOT hanging
        self._released.set()
        self.stopped = threading.Event()

    def set_latency(self, ms: float) -> None:
        with self._lock:
            self._latency_s = max(0.0, ms / 1000.0)

    @property
    def latency_ms(self) -> float:
        return self._latency_s * 1000.0

    def fail_next(self, n: int, status: int = 500, method: str | None = None) -> None:
        """The next n requests (only those with this HTTP method, when given) get `status`."""
        HTTPStatus(status)  # plexapi crashes on codes requests does not know: refuse them here
        with self._lock:
            self._fail_remaining = max(0, n)
            self._fail_status = status
            self._fail_method = method.upper() if method else None

    def take_failure(self, method: str = "") -> int | None:
        with self._lock:
            if self._fail_method is not None and method.upper() != self._fail_method:
                return None
            if self._fail_remaining <= 0:
                return None
            self._fail_remaining -= 1
            return self._fail_status

    def set_hang(self, on: bool) -> None:
        if on:
            self._released.clear()
        else:
            self._released.set()

    @property
    def hanging(self) -> bool:
        return not self._released.is_set()

    def wait_released(self) -> None:
        self._released.wait()

    def delay(self) -> None:
        latency = self._latency_s
        if latency > 0:
            self.stopped.wait(latency)  # interruptible, so stop() stays prompt

    def stop(self) -> None:
        self.stopped.set()
        self._released.set()  # wake hung handlers so their threads exit

    def start(self) -> None:
        self.stopped.clear()


class RequestLog:
    """Arrival-ordered request log plus exact counters (the log itself may be capped)."""

    def __init__(self, limit: int | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=limit)
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._total = 0
        self._active = 0

    def done(self) -> None:
        """The request recorded last by this handler was answered (or dropped)."""
        with self._lock:
            self._active -= 1

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Log an arriving request; `in_flight` is how many requests (this one included) the server was
        handling at that moment, so tests can see a client keep several requests outstanding."""
        with self._lock:
            self._active += 1
            entry["in_flight"] = self._active
            self._entries.append(entry)
            self._counts[(entry["method"], entry["path"])] += 1
            self._total += 1
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e, query=dict(e["query"])) for e in self._entries]

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        with self._lock:
            if method is None and path_prefix is None:
                return self._total
            return sum(n for (m, p), n in self._counts.items()
                       if (method is None or m == method.upper())
                       and (path_prefix is None or p.startswith(path_prefix)))

    def summary(self, limit: int | None = None) -> dict[str, Any]:
        with self._lock:
            by_method: collections.Counter[str] = collections.Counter()
            by_path: collections.Counter[str] = collections.Counter()
            for (method, path), n in self._counts.items():
                by_method[method] += n
                by_path[path] += n
            entries = list(self._entries)
            if limit is not None:
                entries = entries[-limit:] if limit > 0 else []
            return {"total": self._total, "by_method": dict(by_method), "by_path": dict(by_path),
                    "requests": [dict(e) for e in entries]}

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()
            self._total = 0


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------

_XML = "text/xml;charset=utf-8"
_PAGING = ("X-Plex-Container-Start", "X-Plex-Container-Size")


def _html_error(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    return (f"<html><head><title>{phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>"
            .encode("utf-8"))


@dataclass
class _Request:
    method: str
    path: str
    pairs: list[tuple[str, str]]
    query: dict[str, str]
    headers: Any
    body: bytes

    def paging(self) -> tuple[int, int | None]:
        """(start, size) from the X-Plex-Container-* headers or the same-named query parameters."""
        values: list[int | None] = []
        for name in _PAGING:
            raw = self.headers.get(name) or self.query.get(name)
            try:
                values.append(max(0, int(raw)) if raw not in (None, "") else None)
            except ValueError:
                raise HttpError(400, f"bad {name}") from None
        return values[0] or 0, values[1]


_Route = tuple[str, "re.Pattern[str]", str]
_ROUTES: list[_Route] = [
    ("GET", re.compile(r"^/$"), "get_root"),
    ("GET", re.compile(r"^/identity$"), "get_identity"),
    ("GET", re.compile(r"^/library/?$"), "get_library"),
    ("GET", re.compile(r"^/library/sections/?$"), "get_sections"),
    ("GET", re.compile(r"^/library/all/?$"), "get_library_all"),
    ("GET", re.compile(r"^/library/sections/(\d+)/all/?$"), "get_section_all"),
    ("PUT", re.compile(r"^/library/sections/(\d+)/all/?$"), "put_section_all"),
    ("GET", re.compile(r"^/library/sections/(\d+)/refresh/?$"), "ok_section"),
    ("GET", re.compile(r"^/library/metadata/(\d+(?:,\d+)*)/?$"), "get_metadata"),
    ("GET", re.compile(r"^/library/metadata/(\d+)/posters/?$"), "get_posters"),
    ("POST", re.compile(r"^/library/metadata/(\d+)/posters/?$"), "post_poster"),
    ("PUT", re.compile(r"^/library/metadata/(\d+)/poster/?$"), "put_poster"),
    ("DELETE", re.compile(r"^/library/metadata/(\d+)/thumb/?$"), "delete_thumb"),
    ("PUT", re.compile(r"^/library/metadata/(\d+)/refresh/?$"), "ok_item"),
    ("PUT", re.compile(r"^/:/rate/?$"), "put_rate"),
    ("GET", re.compile(r"^/library/sections/(\d+)/collections/?$"), "get_section_collections"),
    ("GET", re.compile(r"^/library/metadata/(\d+)/children/?$"), "get_children"),
    ("PUT", re.compile(r"^/library/metadata/(\d+)/prefs/?$"), "put_prefs"),
    ("PUT", re.compile(r"^/library/metadata/(\d+)/items/(\d+)/move/?$"), "put_move"),
    ("DELETE", re.compile(r"^/library/metadata/(\d+)/?$"), "delete_metadata"),
    ("POST", re.compile(r"^/library/metadata/(\d+)/arts/?$"), "post_art"),
]
_NO_AUTH = {"get_identity"}  # PMS serves /identity without a token


class _PlexHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # come_up() rebinds the same port right after go_down()

    def __init__(self, address: tuple[str, int], sim: "PlexSim") -> None:
        self.sim = sim
        self.closing = False
        self.connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _PlexHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping connections (timeouts, go_down) are normal here; stay quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ValueError)):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.conn_lock:
            threads = list(self.handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _PlexHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "PlexMediaServer/" + _VERSION
    sys_version = ""
    server: _PlexHTTPServer

    # ---- connection bookkeeping ----------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # Small responses must not wait for delayed ACKs (Nagle): send segments immediately.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)
            self.server.handler_threads.add(threading.current_thread())

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
            self.server.handler_threads.discard(threading.current_thread())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        pass  # never print requests (URLs may carry the token)

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    # ---- request flow --------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        sim = self.server.sim
        if self.server.closing:
            self.close_connection = True
            return
        split = urlsplit(self.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        request = _Request(self.command, split.path or "/", pairs, dict(pairs), self.headers, self._read_body())
        if request.path.startswith("/sandbox/"):
            self._sandbox(request)
            return

        entry = sim.log.record({
            "method": request.method, "path": request.path,
            "query": {k: v for k, v in pairs if k != "X-Plex-Token"},  # never log the token
            "container_start": self.headers.get(_PAGING[0]), "container_size": self.headers.get(_PAGING[1]),
            "delay_ms": sim.faults.latency_ms, "status": None})
        try:
            faults = sim.faults
            if faults.hanging:
                faults.wait_released()
                # A hung request is never answered: the client has given up; drop the connection.
                self.close_connection = True
                return
            faults.delay()
            if faults.stopped.is_set() or self.server.closing:
                self.close_connection = True
                return
            status = faults.take_failure(request.method)
            if status is not None:
                entry["status"] = status
                self._send(status, _html_error(status), "text/html")
                return
            try:
                status, body, ctype = self._route(request)
            except HttpError as err:
                status, body, ctype = err.status, _html_error(err.status), "text/html"
            entry["status"] = status
            self._send(status, body, ctype)
        finally:
            sim.log.done()

    def _route(self, request: _Request) -> tuple[int, bytes, str]:
        allowed: list[str] = []
        for method, pattern, name in _ROUTES:
            match = pattern.match(request.path)
            if not match:
                continue
            if method != request.method and not (method == "GET" and request.method == "HEAD"):
                allowed.append(method)
                continue
            if name not in _NO_AUTH:
                self._check_token(request)
            return getattr(self, name)(request, *match.groups())
        self._check_token(request)
        raise HttpError(405 if allowed else 404)

    def _check_token(self, request: _Request) -> None:
        token = self.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token")
        if token != self.server.sim.token:
            raise HttpError(401)

    def _send(self, status: int, body: bytes, content_type: str = _XML) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Plex-Protocol", "1.0")
            if self.close_connection:
                self.send_header("Connection", "close")
            # Headers and body leave in one write (end_headers() would flush the headers alone).
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD" and body:
                self._headers_buffer.append(body)
            self.flush_headers()
        except OSError:
            self.close_connection = True

    # ---- sandbox control endpoints (no token, not logged, no faults) ---------------------------
    def _sandbox(self, request: _Request) -> None:
        sim = self.server.sim
        if request.path == "/sandbox/requests" and request.method == "GET":
            limit = request.query.get("limit")
            payload = sim.log.summary(int(limit) if limit and limit.lstrip("-").isdigit() else None)
            self._send(200, json.dumps(payload).encode("utf-8"), "application/json")
        elif request.path == "/sandbox/reset" and request.method == "POST":
            sim.log.reset()
            self._send(200, b'{"ok": true}', "application/json")
        elif request.path == "/sandbox/faults" and request.method == "POST":
            try:
                settings = json.loads(request.body or b"{}")
                if "latency_ms" in settings:
                    sim.set_latency(float(settings["latency_ms"]))
                if "fail_next" in settings:
                    sim.fail_next(int(settings["fail_next"]), int(settings.get("fail_status", 500)))
                if "hang" in settings:
                    sim.set_hang(bool(settings["hang"]))
            except (ValueError, TypeError, AttributeError):
                self._send(400, b'{"ok": false}', "application/json")
                return
            self._send(200, b'{"ok": true}', "application/json")
        else:
            self._send(404, b'{"error": "not found"}', "application/json")

    # ---- PMS endpoints -------------------------------------------------------------------------
    def get_root(self, request: _Request) -> tuple[int, bytes, str]:
        return 200, self.server.sim.renderer.root(), _XML

    def get_identity(self, request: _Request) -> tuple[int, bytes, str]:
        return 200, self.server.sim.renderer.identity(), _XML

    def get_library(self, request: _Request) -> tuple[int, bytes, str]:
        return 200, self.server.sim.renderer.library(), _XML

    def get_sections(self, request: _Request) -> tuple[int, bytes, str]:
        sim = self.server.sim
        with sim.store.lock:
            return 200, sim.renderer.sections(), _XML

    def _listing(self, request: _Request, section_id: str | None) -> tuple[int, bytes, str]:
        sim = self.server.sim
        start, size = request.paging()
        with sim.store.lock:
            if section_id is None:
                section, keys = None, list(sim.store.sections)
            else:
                section = sim.store.section(int(section_id))
                keys = [section.key]
            matched = sim.store.query_items(keys, request.query, request.pairs)
            page = matched[start:] if size is None else matched[start:start + size]
            return 200, sim.renderer.listing(section, page, len(matched), start), _XML

    def get_section_all(self, request: _Request, section_id: str) -> tuple[int, bytes, str]:
        if request.query.get("type") == COLLECTION_TYPE:
            return self.get_section_collections(request, section_id)
        return self._listing(request, section_id)

    def get_section_collections(self, request: _Request, section_id: str) -> tuple[int, bytes, str]:
        sim = self.server.sim
        start, size = request.paging()
        with sim.store.lock:
            section = sim.store.section(int(section_id))
            colls = sim.store.collections.in_section(section.key)
            title = request.query.get("title")
            if title:
                colls = [c for c in colls if title.casefold() in c.title.casefold()]
            page = colls[start:] if size is None else colls[start:start + size]
            return 200, sim.renderer.collections(section, page, len(colls), start), _XML

    def get_children(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        sim = self.server.sim
        start, size = request.paging()
        with sim.store.lock:
            coll = sim.store.collections.get(int(rating_key))
            members = sim.store.collections.members(coll)
            page = members[start:] if size is None else members[start:start + size]
            return 200, sim.renderer.children(coll, page, len(members), start), _XML

    def put_prefs(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        sim = self.server.sim
        with sim.store.lock:
            prefs = {k: v for k, v in request.pairs if not k.startswith("X-Plex-")}
            sim.store.collections.set_prefs(int(rating_key), prefs)
        return 200, b"", _XML

    def put_move(self, request: _Request, rating_key: str, item_key: str) -> tuple[int, bytes, str]:
        sim = self.server.sim
        after = request.query.get("after")
        if after is not None and not after.isdigit():
            raise HttpError(400)
        with sim.store.lock:
            sim.store.collections.move(int(rating_key), int(item_key), int(after) if after else None)
        return 200, b"", _XML

    def delete_metadata(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        sim = self.server.sim
        with sim.store.lock:
            if int(rating_key) in sim.store.collections.by_key:
                sim.store.collections.delete(int(rating_key))
            else:
                sim.store.get(int(rating_key))
                sim.store.remove_item(int(rating_key))
        return 200, b"", _XML

    def post_art(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        self.server.sim.store.upload_art(int(rating_key), request.body, request.query.get("url"))
        return 200, b"", _XML

    def get_library_all(self, request: _Request) -> tuple[int, bytes, str]:
        return self._listing(request, None)

    def put_section_all(self, request: _Request, section_id: str) -> tuple[int, bytes, str]:
        plan = EditPlan.parse(request.pairs)
        self.server.sim.store.apply_edit(int(section_id), plan)
        return 200, b"", _XML

    def ok_section(self, request: _Request, section_id: str) -> tuple[int, bytes, str]:
        self.server.sim.store.section(int(section_id))
        return 200, b"", _XML

    def ok_item(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        with self.server.sim.store.lock:
            self.server.sim.store.get(int(rating_key))
        return 200, b"", _XML

    def get_metadata(self, request: _Request, keys: str) -> tuple[int, bytes, str]:
        sim = self.server.sim
        start, size = request.paging()
        with sim.store.lock:
            coll = sim.store.collections.by_key.get(int(keys.split(",")[0]))
            if coll is not None:
                return 200, sim.renderer.collection_metadata(
                    coll, preferences=request.query.get("includePreferences") == "1"), _XML
            found = [int(k) for k in dict.fromkeys(keys.split(",")) if int(k) in sim.store.items]
            if not found:
                raise HttpError(404)
            page = found[start:] if size is None else found[start:start + size]
            return 200, sim.renderer.metadata(page, len(found), start), _XML

    def get_posters(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        sim = self.server.sim
        with sim.store.lock:
            return 200, sim.renderer.posters(sim.store.get(int(rating_key))), _XML

    def post_poster(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        self.server.sim.store.upload_poster(int(rating_key), request.body, request.query.get("url"))
        return 200, b"", _XML

    def put_poster(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        url = request.query.get("url")
        if not url:
            raise HttpError(400)
        self.server.sim.store.select_poster(int(rating_key), url)
        return 200, b"", _XML

    def delete_thumb(self, request: _Request, rating_key: str) -> tuple[int, bytes, str]:
        self.server.sim.store.delete_poster(int(rating_key))
        return 200, b"", _XML

    def put_rate(self, request: _Request) -> tuple[int, bytes, str]:
        key, rating = request.query.get("key"), request.query.get("rating")
        if not key or not key.isdigit() or rating is None:
            raise HttpError(400)
        self.server.sim.store.rate(int(key), rating)
        return 200, b"", _XML


# --------------------------------------------------------------------------------------------------
# Facade
# --------------------------------------------------------------------------------------------------

class PlexSim:
    """A simulated Plex Media Server on 127.0.0.1 (see module docstring and CONTRACT.md)."""

    def __init__(self, token: str = "sandbox-plex-token", machine_identifier: str | None = None,
                 friendly_name: str = "PlexSync Sandbox", request_log_limit: int | None = None) -> None:
        self.token = token
        register_secret(token)  # tests/reliability: the suite checks no output ever holds it
        self.machine_identifier = machine_identifier or hashlib.sha1(os.urandom(16)).hexdigest()
        self.friendly_name = friendly_name
        self.store = LibraryStore()
        self.renderer = XmlRenderer(self.store, self.machine_identifier, friendly_name)
        self.faults = FaultController()
        self.log = RequestLog(request_log_limit)
        self.url = ""
        self.port = 0
        self._server: _PlexHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._life_lock = threading.Lock()

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1:port (0 = any free port), serve in a thread, return the base URL."""
        with self._life_lock:
            if self._server is not None:
                raise RuntimeError("already started")
            self.faults.start()
            self._listen(port)
            self.port = self._server.server_address[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{self.port}"
            return self.url

    def stop(self) -> None:
        """Stop serving; returns promptly even with hung requests (they are released and dropped)."""
        with self._life_lock:
            self.faults.stop()
            self._close_listener(join=True)

    def go_down(self) -> None:
        """Close the listening socket and every open connection: new connections are refused."""
        with self._life_lock:
            self._close_listener(join=False)

    def come_up(self) -> None:
        """Listen again on the same port after go_down()."""
        with self._life_lock:
            if self._server is None:
                if not self.port:
                    raise RuntimeError("never started")
                self.faults.start()
                self._listen(self.port)

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def _listen(self, port: int) -> None:
        server = _PlexHTTPServer(("127.0.0.1", port), self)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"PlexSim:{server.server_address[1]}", daemon=True)
        thread.start()
        self._server, self._thread = server, thread

    def _close_listener(self, join: bool) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.closing = True
        server.shutdown()
        server.server_close()
        server.drop_connections()
        if thread is not None:
            thread.join(5)
        server.join_handlers(2.0 if join else 0.2)

    def __enter__(self) -> "PlexSim":
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- state ---------------------------------------------------------------------------------
    def add_section(self, title: str, locations: list[str], key: int | None = None) -> int:
        return self.store.add_section(title, locations, key)

    def add_item(self, section_key: int, title: str, files: list[str], **fields: Any) -> int:
        """Add a movie; fields: titleSort, studio, summary, tagline, year, originallyAvailableAt,
        userRating, contentRating, originalTitle, genres/actors/collections/labels/directors/writers/
        producers/countries (list[str]), locked (set[str]), poster_bytes, file_sizes, added_at,
        updated_at, rating_key. Returns the ratingKey."""
        return self.store.add_item(section_key, title, files, **fields)

    def remove_item(self, rating_key: int) -> None:
        self.store.remove_item(rating_key)

    def backdate(self, seconds: int) -> None:
        """Make every item's addedAt/updatedAt `seconds` older: a library scanned long ago."""
        with self.store.lock:
            for item in self.store.items.values():
                item.added_at -= int(seconds)
                item.updated_at -= int(seconds)

    def spread_added_dates(self, spacing: int = 600, newest_age: int = 3600) -> None:
        """Give every item its own addedAt/updatedAt, in ratingKey order, `spacing` seconds apart, the
        newest `newest_age` seconds ago: a library Plex filled over months, not in this second."""
        with self.store.lock:
            keys = sorted(self.store.items)
            newest = int(time.time()) - int(newest_age)
            for i, rk in enumerate(keys):
                item = self.store.items[rk]
                item.added_at = item.updated_at = newest - (len(keys) - 1 - i) * int(spacing)

    def add_item_again(self, rating_key: int, **fields: Any) -> int:
        """Plex deletes the item and re-adds its file under a new ratingKey (returned)."""
        return self.store.add_item_again(rating_key, **fields)

    def edit_item(self, rating_key: int, respect_locks: bool = False, **fields: Any) -> None:
        """Change an item from the Plex side (user edit; agent refresh with respect_locks=True)."""
        self.store.edit_item(rating_key, respect_locks, **fields)

    def item(self, rating_key: int) -> dict[str, Any]:
        return self.store.snapshot(rating_key)

    def collections(self, section_key: int) -> list[dict[str, Any]]:
        """Every collection of a section as Plex holds it (title order), with members in their order."""
        with self.store.lock:
            store = self.store.collections
            return [store.snapshot(c) for c in store.in_section(section_key)]

    def collection(self, section_key: int, title: str) -> dict[str, Any] | None:
        with self.store.lock:
            coll = self.store.collections.find(section_key, title)
            return self.store.collections.snapshot(coll) if coll else None

    def create_collection(self, section_key: int, title: str, items: list[int] = ()) -> int:
        """A collection the user makes by hand in Plex Web."""
        with self.store.lock:
            rk = self.store.collections.create_empty(section_key, title)
            for item_rk in items:
                item = self.store.get(item_rk)
                self.store.edit_item(item_rk, collections=[*item.tags(self.store.collection_kind), title])
            return rk

    def delete_collection(self, rating_key: int) -> None:
        with self.store.lock:
            self.store.collections.delete(rating_key)

    def actor_photo(self, name: str) -> str | None:
        with self.store.lock:
            return self.store.actor_thumbs.get(name)

    def uploaded(self, key: str | None) -> bytes | None:
        """The bytes behind an 'upload://posters/<sha1>' key."""
        return self.store.uploads.get(key.rsplit("/", 1)[-1]) if key else None

    def items(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [self.store.snapshot(rk) for rk in self.store.items]

    def section_keys(self) -> list[int]:
        with self.store.lock:
            return list(self.store.sections)

    # ---- request log ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copies of the logged requests in arrival order: method, path, query (token removed),
        container_start/container_size (paging headers as sent, or None), delay_ms (injected latency),
        in_flight (requests being handled when it arrived, itself included) and status (None if
        unanswered)."""
        return self.log.entries()

    def request_count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        return self.log.count(method, path_prefix)

    def reset_requests(self) -> None:
        self.log.reset()

    # ---- faults --------------------------------------------------------------------------------
    def set_latency(self, ms: float) -> None:
        self.faults.set_latency(ms)

    def fail_next(self, n: int, status: int = 500, method: str | None = None) -> None:
        self.faults.fail_next(n, status, method)

    def set_hang(self, on: bool) -> None:
        self.faults.set_hang(on)
