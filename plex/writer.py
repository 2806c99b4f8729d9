"""Write desired values to one Plex item (DESIGN.md "What is written to Plex").

Per changed scene: 1 GET /library/metadata/{rk} (fetch_item), 1 PUT with every changed field
locked (apply_edit), +1 POST when the cover changed (upload_poster). The PUT params are built
here, not through plexapi's add/remove helpers: those resend the item's *cached* tag list, which
is how truncated listings and stale caches lose or resurrect tags (reference/plex-api.md §4-5).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from validation.metadata import PlexFields, SCALAR_FIELDS, TAG_FIELDS

# Plex tag edit name -> plexapi attribute on a Movie.
TAG_ATTR = {"director": "directors", "actor": "roles", "genre": "genres", "collection": "collections",
           "label": "labels"}
# plexapi sends an edit in the PUT's query string. HTTP servers cap the request line (the simulated
# Plex, like Python's http.server, at 64 KiB; Plex documents no figure), so a summary too long to fit is
# shortened rather than failing the whole edit on every retry. Others fields are small (capped at 255).
MAX_QUERY_BYTES = 48 * 1024
# Fields whose lock state we do not chase on their own: Plex may not report a lock for a per-user value.
_NO_LOCK_ONLY = {"userRating"}


@dataclass
class EditPlan:
    rating_key: int
    section_id: int | None
    params: dict[str, str | int] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # field -> (current, desired)
    lock_only: list[str] = field(default_factory=list)                   # equal values we only lock
    shortened_summary: int | None = None                                 # characters kept, when cut
    title: str = ""

    @property
    def empty(self) -> bool:
        return not self.params


def fetch_item(plex: Any, rating_key: int) -> Any:
    """The item as Plex holds it now, for exactly one request. Auto-reload is turned off: the
    metadata endpoint already returns every tag and lock, and plexapi would otherwise send a
    second GET the first time an empty attribute (no summary, no labels) is read."""
    item = plex.fetchItem(int(rating_key))
    item._autoReload = False
    return item


def read_field(item: Any, name: str) -> Any:
    """`getattr(item, name, None)`, without plexapi's reload check on an item fetched whole (auto-reload
    off): for every empty attribute plexapi first parses two URLs to ask whether the object is complete,
    which was a seventh of a drain's CPU. Any other object is read the usual way."""
    if getattr(item, "__dict__", {}).get("_autoReload", True) is False:
        try:
            return object.__getattribute__(item, name)
        except AttributeError:
            return None
    return getattr(item, name, None)


def _current_scalar(item: Any, name: str) -> Any:
    value = read_field(item, name)
    if name == "originallyAvailableAt":
        return value.strftime("%Y-%m-%d") if isinstance(value, (_dt.date, _dt.datetime)) else ""
    if name in ("year", "userRating"):
        if not isinstance(value, (int, float)) or value != value:
            return None
        return int(value) if name == "year" else round(float(value), 1)
    return value if isinstance(value, str) else ("" if value is None else str(value))


def current_tags(item: Any, tag: str) -> list[str]:
    return [t.tag for t in (read_field(item, TAG_ATTR[tag]) or []) if getattr(t, "tag", None)]


def _wanted_thumbs(desired: PlexFields, tag: str, names: list[str]) -> dict[str, str]:
    """Actor photo URLs by name (performer photos on); empty for every other tag."""
    urls = desired.get("actorThumbs") if tag == "actor" else None
    if not urls:
        return {}
    return {name: url for name, url in zip(names, urls) if url}


def _thumbs_differ(item: Any, thumbs: dict[str, str]) -> bool:
    if not thumbs:
        return False
    have = {t.tag: getattr(t, "thumb", None) for t in (read_field(item, "roles") or [])}
    return any(have.get(name) != url for name, url in thumbs.items())


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _locked(item: Any, name: str) -> bool:
    """plexapi's isLocked, read through read_field (an item without <Field> elements has no locks)."""
    return any(getattr(f, "name", None) == name and getattr(f, "locked", False)
               for f in (read_field(item, "fields") or ()))


def plan_edit(item: Any, desired: PlexFields, settings: Any, *, poster_changed: bool = False,
              art_changed: bool = False) -> EditPlan:
    """Params for one batched PUT: only differing fields (each locked); with preserve_plex_edits only
    fields empty in Plex. Equal-but-unlocked managed fields get a lock in the same request, and the
    poster lock rides along when a new cover is about to be uploaded."""
    preserve = bool(getattr(settings, "preserve_plex_edits", False))
    plan = EditPlan(int(item.ratingKey), getattr(item, "librarySectionID", None), title=item.title or "")
    p = plan.params

    for name in SCALAR_FIELDS:
        if name not in desired:
            continue
        want = desired.get(name)
        have = _current_scalar(item, name)
        if name == "userRating" and want is not None:
            want = round(float(want), 1)
        want_cmp = "" if want is None else want
        have_cmp = "" if have is None else have
        if want_cmp != have_cmp:
            if preserve and not _is_empty(have):
                continue
            p[f"{name}.value"] = "" if want is None else want
            p[f"{name}.locked"] = 1
            plan.changes[name] = (have, want)
        elif not preserve and name not in _NO_LOCK_ONLY and not _locked(item, name):
            p[f"{name}.locked"] = 1
            plan.lock_only.append(name)

    for tag in TAG_FIELDS:
        if tag not in desired:
            continue
        want_list = list(desired.get(tag) or ())
        have_list = current_tags(item, tag)
        thumbs = _wanted_thumbs(desired, tag, want_list)
        if sorted(set(want_list)) != sorted(set(have_list)) or _thumbs_differ(item, thumbs):
            if preserve and have_list:
                continue
            p[f"{tag}.locked"] = 1
            if want_list:
                # Indexed tags replace the whole list: exactly Stash's names, removals included.
                for i, name in enumerate(want_list):
                    p[f"{tag}[{i}].tag.tag"] = name
                    if thumbs.get(name):  # a URL Plex fetches itself (plexapi #462: actor[i].tag.thumb)
                        p[f"{tag}[{i}].tag.thumb"] = thumbs[name]
            else:
                # An empty indexed list cannot be expressed; remove the current names instead.
                p[f"{tag}[].tag.tag-"] = ",".join(quote(n) for n in have_list)
            plan.changes[tag] = (have_list, want_list)
        elif not preserve and not _locked(item, tag):
            p[f"{tag}.locked"] = 1
            plan.lock_only.append(tag)

    if poster_changed and not _locked(item, "thumb"):
        p["thumb.locked"] = 1
        plan.lock_only.append("thumb")
    if art_changed and not _locked(item, "art"):
        p["art.locked"] = 1
        plan.lock_only.append("art")
    return plan


def apply_edit(item: Any, plan: EditPlan) -> int:
    """Send the plan as ONE PUT /library/sections/{id}/all; returns the number of requests sent (0 or 1)."""
    if plan.empty:
        return 0
    fit_query(plan)
    item.edit(**plan.params)  # plexapi adds id and type=1 and sends a single PUT
    return 1


def query_bytes(params: dict[str, Any]) -> int:
    """Size of the params as plexapi encodes them (quote with safe='')."""
    return sum(len(quote(str(k), safe="")) + len(quote(str(v), safe="")) + 2 for k, v in params.items())


def fit_query(plan: EditPlan, limit: int = MAX_QUERY_BYTES) -> None:
    """Shorten summary.value (the only unbounded field) until the PUT fits in `limit` bytes."""
    text = plan.params.get("summary.value")
    if not isinstance(text, str) or query_bytes(plan.params) <= limit:
        return
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits
        mid = (low + high + 1) // 2
        plan.params["summary.value"] = text[:mid]
        if query_bytes(plan.params) <= limit:
            low = mid
        else:
            high = mid - 1
    plan.params["summary.value"] = text[:low]
    plan.shortened_summary = low


def upload_poster(item: Any, data: bytes) -> int:
    """One POST /library/metadata/{rk}/posters with the raw image bytes (Plex cannot reach Stash's URLs)."""
    item.uploadPoster(filepath=bytes(data))
    return 1


def upload_art(item: Any, data: bytes) -> int:
    """One POST /library/metadata/{rk}/arts with the raw image bytes (plexapi ArtMixin.uploadArt)."""
    item.uploadArt(filepath=bytes(data))
    return 1


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, list):
        text = "[" + ", ".join(value) + "]"
    else:
        text = repr(value)
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_plan(plan: EditPlan) -> str:
    """One log line (dry_run / debug): which fields change, from what to what."""
    if plan.empty:
        return f"ratingKey {plan.rating_key}: no change"
    parts = []
    for name, (have, want) in plan.changes.items():
        if isinstance(want, list):
            added = [n for n in want if n not in have]
            removed = [n for n in have if n not in want]
            parts.append(f"{name} +{_short(added)} -{_short(removed)}")
        else:
            parts.append(f"{name}: {_short(have)} -> {_short(want)}")
    if plan.lock_only:
        parts.append("lock " + ",".join(plan.lock_only))
    if plan.shortened_summary is not None:
        parts.append(f"summary shortened to {plan.shortened_summary} characters to fit Plex's request size")
    return f"ratingKey {plan.rating_key} '{_short(plan.title, 80)[1:-1]}': " + "; ".join(parts)
