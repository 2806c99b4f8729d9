"""Stash scene -> the Plex field values PlexSync wants (DESIGN.md "What is written to Plex").

Pure functions, no I/O: the worker feeds a scene dict as Stash's GraphQL returns it and gets a
`PlexFields` it can hash (to skip unchanged scenes with zero Plex requests) and hand to plex.writer.

Decisions (documented in the report and here):
- director: Stash holds one free-text string; it is split on "," and ";" into separate Plex
  directors (Stash users write "A, B" for two directors; a comma inside one name is rare).
- length caps: Plex stores title, titleSort, studio, tagline, originalTitle and tag names in
  columns declared varchar(255) in its library database; those are capped at 255 code points
  (never splitting a ZWJ/combining sequence's joiner at the end). summary is a TEXT column and
  is never capped, so 10,000-character details reach Plex whole.
- empty Stash values clear the Plex field (Stash wins), except the title: with no title and no
  file there is nothing sensible to write, so the title is left alone.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

# Plex edit field names (the `<name>.value` / `<name>[i].tag.tag` keys of a PUT).
SCALAR_FIELDS = ("title", "titleSort", "summary", "originallyAvailableAt", "year", "studio", "tagline",
                 "userRating", "contentRating")
TAG_FIELDS = ("director", "actor", "genre", "collection", "label")

PLEX_VARCHAR_LIMIT = 255
_CAPPED = {"title", "titleSort", "studio", "tagline", "contentRating"}

FieldValue = Union[str, int, float, None, tuple[str, ...]]

# C0 controls other than \t \n \r, lone surrogates, and U+FFFE/U+FFFF: what XML 1.0 cannot carry.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?\s*$")
_DIRECTOR_SPLIT = re.compile(r"[,;]")
_HASH_VERSION = 1


@dataclass(frozen=True)
class PlexFields:
    """Desired Plex values, keyed by Plex edit field name. A key that is absent is not managed
    (its toggle is off); '' / None clear a scalar field; a tuple is the exact tag list."""
    values: Mapping[str, FieldValue] = field(default_factory=dict)
    # Part of the hash: switching preserve_plex_edits off must make the next sync write again.
    preserve_plex_edits: bool = False
    # What else decides a re-sync beyond the field values (collection text, images and order indexes;
    # the poster mode). Empty when those features are off, so existing hashes stay valid.
    extras: str = ""

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str, default: FieldValue = None) -> FieldValue:
        return self.values.get(name, default)

    def names(self) -> list[str]:
        return list(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.values.items()}


def sanitize_text(s: str | None) -> str:
    """Remove only what XML 1.0 cannot carry; keep newlines, tabs, CR, emoji (incl. ZWJ), dashes, quotes."""
    if not s:
        return ""
    if not isinstance(s, str):
        s = str(s)
    if _XML_ILLEGAL.search(s) is None:
        return s  # the usual case, in one C scan (a per-character Python loop cost ~20% of Sync all's hashing)
    # A surrogate *pair* left as two code points (e.g. from surrogatepass decoding) is rejoined, not lost.
    if _SURROGATE.search(s):
        s = _SURROGATE_PAIR.sub(
            lambda m: m.group(0).encode("utf-16-le", "surrogatepass").decode("utf-16-le"), s)
    return _XML_ILLEGAL.sub("", s)


def cap_text(s: str, limit: int = PLEX_VARCHAR_LIMIT) -> str:
    """Cap at `limit` code points without leaving a dangling joiner or combining mark cut in half."""
    if len(s) <= limit:
        return s

    def attaches(ch: str) -> bool:  # belongs to the character before it (ZWJ, variation selector, mark)
        return ch in "\u200d\ufe0e\ufe0f" or bool(unicodedata.combining(ch))

    # Cut before the whole cluster that straddles the limit: never é -> e, never half a ZWJ emoji.
    k = limit
    while k > 0 and (attaches(s[k]) or s[k - 1] == "\u200d"):
        k -= 1
    return s[:k]


def _clean(s: Any, capped: bool) -> str:
    text = sanitize_text(s if isinstance(s, str) else ("" if s is None else str(s)))
    return cap_text(text) if capped else text


def _list(value: Any) -> list[Any] | tuple[Any, ...]:
    """A GraphQL list, or nothing: a wrong-typed value (never sent by Stash) must not stop the sync."""
    return value if isinstance(value, (list, tuple)) else ()


def _names(items: Any, key: str = "name") -> tuple[str, ...]:
    """Names from a GraphQL list of objects, sanitised, capped, blank-free, deduplicated in order."""
    out: list[str] = []
    seen: set[str] = set()
    for obj in _list(items):
        name = obj.get(key) if isinstance(obj, dict) else obj
        text = _clean(name, True).strip()
        if text and text not in seen:
            seen.add(text)
            out.append(text)
    return tuple(out)


def split_directors(director: str | None) -> tuple[str, ...]:
    text = director if isinstance(director, str) else ""
    return _names(_DIRECTOR_SPLIT.split(text), key="")


def parse_stash_date(date: str | None) -> tuple[str, int] | None:
    """'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' -> ('YYYY-MM-DD' padded with 01, year); None if invalid."""
    if not date:
        return None
    m = _DATE.match(str(date))
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        value = _dt.date(year, month, day)
    except ValueError:
        return None
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}", year  # strftime drops a year's zeros


def primary_file_title(scene: Mapping[str, Any]) -> str:
    """The first file's base name without extension (either separator style)."""
    for f in _list(scene.get("files")):
        path = f.get("path") if isinstance(f, dict) else f
        if path:
            base = str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
            return os.path.splitext(base)[0] or base
    path = scene.get("path")
    if path:
        base = str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return os.path.splitext(base)[0] or base
    return ""


def performer_photo_urls(scene: Mapping[str, Any], names: tuple[str, ...], base: str) -> tuple[str, ...]:
    """Each actor's Stash image as Plex can fetch it: Stash's image path (with its ?t= version) on the
    address Plex reaches Stash at; "" for a performer without an image of their own (default=true)."""
    by_name: dict[str, str] = {}
    for performer in _list(scene.get("performers")):
        if not isinstance(performer, dict):
            continue
        name = _clean(performer.get("name"), True).strip()
        url = performer.get("image_path")
        if name and isinstance(url, str) and url and "default=true" not in url and name not in by_name:
            by_name[name] = base + "/" + url.split("://", 1)[-1].split("/", 1)[-1]
    return tuple(by_name.get(name, "") for name in names)


def _enabled(settings: Any, name: str) -> bool:
    fn = getattr(settings, "field_enabled", None)
    if callable(fn):
        return bool(fn(name))
    return bool(getattr(settings, f"sync_{name}", True))


def desired_plex_fields(scene: Mapping[str, Any], settings: Any, stash_scene_url: str | None = None) -> PlexFields:
    """Map one Stash scene to the Plex values it should have; only enabled fields are present.
    `stash_scene_url` (the scene's address in Stash) ends the summary when stash_link_in_summary is on."""
    values: dict[str, FieldValue] = {}

    if _enabled(settings, "title"):
        values.update(titles(scene, settings))

    if _enabled(settings, "details"):
        values["summary"] = _clean(scene.get("details"), False)
        if stash_scene_url and getattr(settings, "stash_link_in_summary", False):
            values["summary"] = with_stash_footer(str(values["summary"]), stash_scene_url)

    if getattr(settings, "content_rating", ""):
        values["contentRating"] = _clean(settings.content_rating, True)

    if _enabled(settings, "date"):
        raw_date = scene.get("date")
        parsed = parse_stash_date(raw_date)
        if parsed is not None:
            values["originallyAvailableAt"], values["year"] = parsed
        elif not raw_date:
            values["originallyAvailableAt"], values["year"] = "", None
        # an unparseable date leaves Plex's date alone rather than clearing it on garbage input

    studio = scene.get("studio") or {}
    studio_name = _clean(studio.get("name") if isinstance(studio, dict) else studio, True).strip()
    if _enabled(settings, "studio"):
        values["studio"] = studio_name

    if _enabled(settings, "code"):
        values["tagline"] = _clean(scene.get("code"), True)

    if _enabled(settings, "director"):
        values["director"] = split_directors(scene.get("director"))

    if _enabled(settings, "performers"):
        values["actor"] = _names(scene.get("performers"))
        photo_base = str(getattr(settings, "performer_photos_stash_url", "") or "").rstrip("/")
        if photo_base:
            values["actorThumbs"] = performer_photo_urls(scene, values["actor"], photo_base)

    if _enabled(settings, "tags"):
        destination = getattr(settings, "tag_destination", "genres") or "genres"
        for tag_field, wanted in (("genre", ("genres", "both")), ("label", ("labels", "both"))):
            if destination in wanted:
                values[tag_field] = _names(scene.get("tags"))

    from validation import collections  # noqa: PLC0415 - it builds on this module's text helpers
    extras = ""
    if collections.enabled(settings):
        # The names of the collections PlexSync manages for this scene; the worker keeps hand-made ones.
        wanted = collections.wanted_collections(scene, settings)
        values["collection"] = tuple(w.name for w in wanted)
        extras = collections.collections_hash(wanted)

    if _enabled(settings, "rating"):
        rating = scene.get("rating100")
        if rating is None or rating == "":
            values["userRating"] = None
        else:
            try:
                values["userRating"] = round(min(max(float(rating), 0.0), 100.0) / 10.0, 1)
            except (TypeError, ValueError):
                pass  # not a number: leave Plex's rating alone

    from plex.artwork import DEFAULT_POSTER_MODE, poster_mode  # noqa: PLC0415 - pure; Pillow only on render
    art = bool(getattr(settings, "sync_background_art", False))
    if art or (_enabled(settings, "cover") and poster_mode(settings) != DEFAULT_POSTER_MODE):
        # A new poster mode or the background option must make the next Sync all re-send the images once.
        extras += f"|poster:{poster_mode(settings)}|art:{int(art)}"
    return PlexFields(values, bool(getattr(settings, "preserve_plex_edits", False)), extras)


STASH_FOOTER_PREFIX = "Stash: "


def with_stash_footer(summary: str, stash_scene_url: str) -> str:
    """The summary plus one last line with the scene's Stash address (the way back from Plex)."""
    footer = STASH_FOOTER_PREFIX + stash_scene_url
    return f"{summary.rstrip()}\n\n{footer}" if summary.strip() else footer


def titles(scene: Mapping[str, Any], settings: Any) -> dict[str, FieldValue]:
    """title and titleSort from the templates (validation/templates.py); the file name when the
    scene has no title; nothing when there is neither (Plex's title is left alone)."""
    template = getattr(settings, "title_template", "") or ""
    sort_template = getattr(settings, "sort_title_template", "") or ""
    if not template and not sort_template:  # the default: exactly the values (and hashes) of before
        title = _clean(scene.get("title"), True)
        if not title.strip():
            title = _clean(primary_file_title(scene), True)
        return {"title": title, "titleSort": title} if title.strip() else {}
    file_title = _clean(primary_file_title(scene), False).strip()
    from validation.templates import render_template, scene_placeholder_values  # noqa: PLC0415
    values = scene_placeholder_values(scene, file_title, lambda v: _clean(v, False))
    title = cap_text(render_template(template or "{title}", values) or file_title)
    if not title.strip():
        return {}
    sort_title = cap_text(render_template(sort_template, values)) if sort_template else title
    return {"title": title, "titleSort": sort_title if sort_title.strip() else title}


def content_hash(fields: PlexFields) -> str:
    """Stable hash of what would be written; tag lists sorted (order never causes a write)."""
    body = {k: (sorted(v) if isinstance(v, tuple) else v) for k, v in fields.values.items()}
    payload: dict[str, Any] = {"v": _HASH_VERSION, "preserve": fields.preserve_plex_edits, "fields": body}
    if fields.extras:
        payload["extras"] = fields.extras
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def scene_state_hash(scene: Mapping[str, Any], fields: PlexFields, poster_hash: str | None) -> str:
    """What decides "unchanged since the last sync": the Plex fields, the cover, and what the match
    depends on (the scene's files and URL pins). The worker stores it; Sync all compares with it."""
    files = [f.get("path") for f in _list(scene.get("files")) if isinstance(f, dict)]
    urls = [u for u in _list(scene.get("urls")) if isinstance(u, str)]
    payload = json.dumps([content_hash(fields), poster_hash, sorted(map(str, files)), sorted(urls)])
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def unchanged_since_sync(scene: Mapping[str, Any], fields: PlexFields, record: Any, settings: Any) -> bool:
    """The scene's state equals the one `record` (its sync state) was written from, the cover taken as
    last synced: Sync all, the worker's read-ahead and the coverage page judge without fetching covers."""
    synced_images = settings.sync_cover or settings.sync_background_art
    return scene_state_hash(scene, fields, record.poster_hash if synced_images else None) == record.content_hash
