"""Scene -> Plex item with a confidence level (DESIGN.md "Matching and confidence").

Matching reads only the path index (SQLite): no Plex request per scene. A miss may trigger one
index rebuild per `rebuild_interval` (that is the only Plex traffic here).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from plex.index import Candidate, PathIndex
from plex.paths import map_stash_path, normalise_path
from plex.pin import parse_plex_item_url

__all__ = ["Candidate", "Confidence", "MatchResult", "Matcher", "find_plex_items_with_confidence",
           "scene_file_paths", "scene_urls"]


class Confidence(enum.Enum):
    HIGH = "high"
    LOW = "low"
    NONE = "none"


@dataclass(frozen=True)
class MatchResult:
    confidence: Confidence
    rating_key: int | None                 # HIGH: the item; LOW: the best candidate (first); NONE: None
    candidates: tuple[Candidate, ...] = ()
    reason: str = ""
    pinned: bool = False
    remembered: bool = False               # HIGH because the stored ratingKey still maps a scene file
    basename_only: bool = False            # LOW only through a file-name match
    rebuilt: bool = False                  # this match rebuilt the path index (the worker may re-try misses)
    stash_paths: tuple[str, ...] = field(default=())

    @property
    def item(self) -> Candidate | None:
        """The chosen candidate (HIGH, or the best LOW one), without any Plex request."""
        if self.rating_key is None:
            return None
        for c in self.candidates:
            if c.rating_key == self.rating_key:
                return c
        return None

    @property
    def stash_path(self) -> str:
        return self.stash_paths[0] if self.stash_paths else ""


def scene_file_paths(scene: Mapping[str, Any]) -> list[str]:
    """Every file path of a Stash scene (GraphQL `files[].path`; a legacy `path` also accepted)."""
    paths: list[str] = []
    for f in scene.get("files") or ():
        p = f.get("path") if isinstance(f, dict) else f
        if p and p not in paths:
            paths.append(str(p))
    if not paths and scene.get("path"):
        paths.append(str(scene["path"]))
    return paths


def scene_urls(scene: Mapping[str, Any]) -> list[str]:
    urls = [u for u in (scene.get("urls") or ()) if isinstance(u, str)]
    if isinstance(scene.get("url"), str):
        urls.append(scene["url"])
    return urls


def _dedupe(cands: Iterable[Candidate]) -> list[Candidate]:
    seen: dict[int, Candidate] = {}
    for c in cands:
        seen.setdefault(c.rating_key, c)
    return list(seen.values())


class Matcher:
    def __init__(self, plex: Any, index: PathIndex, settings: Any) -> None:
        self.plex = plex
        self.index = index
        self.settings = settings
        self.machine_identifier = getattr(plex, "machineIdentifier", "") or ""
        self.path_map = tuple(getattr(settings, "path_map", ()) or ())

    def mapped_keys(self, stash_paths: Sequence[str]) -> list[str]:
        keys: list[str] = []
        for p in stash_paths:
            k = normalise_path(map_stash_path(p, self.path_map))
            if k and k not in keys:
                keys.append(k)
        return keys

    def pinned_rating_key(self, urls: Iterable[str]) -> int | None:
        for u in urls:
            rk = parse_plex_item_url(u, self.machine_identifier)
            if rk is not None:
                return rk
        return None

    def _exact(self, keys: Sequence[str], section_ids: Sequence[int] | None) -> list[Candidate]:
        return _dedupe(c for k in keys for c in self.index.lookup(k, section_ids))

    def match_paths(self, stash_paths: Sequence[str], urls: Sequence[str] = (),
                    remembered_rating_key: int | None = None,
                    section_ids: Sequence[int] | None = None) -> MatchResult:
        paths = tuple(stash_paths)
        pin = self.pinned_rating_key(urls)
        if pin is not None:
            cands = tuple(self.index.candidates_for_rating_key(pin)[:1])
            return MatchResult(Confidence.HIGH, pin, cands, f"pinned by Plex item URL (ratingKey {pin})",
                               pinned=True, stash_paths=paths)
        keys = self.mapped_keys(paths)
        if not keys:
            return MatchResult(Confidence.NONE, None, (), "scene has no file and no Plex item URL",
                               stash_paths=paths)
        if remembered_rating_key is not None:
            # Trusted only while it is still the one item holding the scene's file: a duplicate added to
            # Plex since (or an old LOW match synced with strict matching off) must be reviewed again.
            exact = self._exact(keys, section_ids)
            if [c.rating_key for c in exact] == [int(remembered_rating_key)]:
                return MatchResult(Confidence.HIGH, int(remembered_rating_key), tuple(exact),
                                   "remembered ratingKey still holds the scene's file",
                                   remembered=True, stash_paths=paths)
        rebuilt = False
        cands = self._exact(keys, section_ids)
        if not cands:
            rebuilt = self.index.look_again_on_miss()
            if rebuilt:
                cands = self._exact(keys, section_ids)
        if len(cands) == 1:
            return MatchResult(Confidence.HIGH, cands[0].rating_key, tuple(cands), "one Plex item has the file",
                               rebuilt=rebuilt, stash_paths=paths)
        if cands:
            return MatchResult(Confidence.LOW, cands[0].rating_key, tuple(cands),
                               f"{len(cands)} Plex items have the scene's file(s)", rebuilt=rebuilt,
                               stash_paths=paths)
        by_name = _dedupe(c for k in keys for c in self.index.lookup_basename(k, section_ids))
        if by_name:
            return MatchResult(Confidence.LOW, by_name[0].rating_key, tuple(by_name),
                               f"only a file-name match ({len(by_name)} Plex item"
                               f"{'s' if len(by_name) != 1 else ''}); the full path is in no Plex library",
                               basename_only=True, rebuilt=rebuilt, stash_paths=paths)
        mapped = map_stash_path(paths[0], self.path_map)
        return MatchResult(Confidence.NONE, None, (), f"no Plex item has the file (looked for {mapped!r})",
                           rebuilt=rebuilt, stash_paths=paths)

    def match_scene(self, scene: Mapping[str, Any], remembered_rating_key: int | None = None) -> MatchResult:
        return self.match_paths(scene_file_paths(scene), scene_urls(scene), remembered_rating_key)


def find_plex_items_with_confidence(section: Any, stash_path: str, *, matcher: Matcher,
                                    fetch: bool = False) -> tuple[Confidence, Any, list[Candidate]]:
    """The plan's function: match one Stash path within one LibrarySection.
    Returns (confidence, item, candidates); `item` is the chosen Candidate (no Plex request), or,
    with fetch=True, the freshly fetched plexapi item (exactly one GET /library/metadata/{rk})."""
    result = matcher.match_paths([stash_path], section_ids=[int(section.key)])
    chosen: Any = result.item if result.confidence is not Confidence.NONE else None
    if fetch and result.rating_key is not None and result.confidence is not Confidence.NONE:
        from plex.writer import fetch_item
        chosen = fetch_item(matcher.plex, result.rating_key)
    return result.confidence, chosen, list(result.candidates)
