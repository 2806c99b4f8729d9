"""The "Health check" task: is Plex reachable, is the token valid, do the configured libraries exist,
and how well does a sample of Stash scenes match the Plex path index (with a path_map hint when the
paths do not line up). One log line per finding; nothing is written to Plex.
"""
from __future__ import annotations

import time
import unicodedata
from collections import Counter
from typing import Any, Iterable
from xml.etree import ElementTree

from plex.paths import is_windows_path, map_stash_path, normalise_path
from stash import log
from stash.graphql import StashClient
from stash.protocol import Invocation
from validation.config import Settings
from worker.reconcile import iter_scene_pages

SAMPLE_SIZE = 200
EXAMPLES = 3
SAMPLE_FIELDS = "id files { path } urls"


def _components(path: str, fold: bool = False) -> list[str]:
    """Path parts as written (case kept for messages); fold=True gives comparison keys."""
    text = normalise_path(path) if fold else unicodedata.normalize("NFC", path).replace("\\", "/")
    return [c for c in text.split("/") if c != ""]


def head(path: str, depth: int = 2) -> str:
    """The first `depth` folders of a path ('/data/scenes' for '/data/scenes/A/x.mp4')."""
    parts = _components(path)[:-1][:depth]  # never the file name itself
    if path.startswith(("\\\\", "//")):
        lead = "//"  # a share: //server/share
    else:
        lead = "" if is_windows_path(path) else "/"
    return lead + "/".join(parts) if parts else lead


def is_under(path: str, folder: str) -> bool:
    """Whole-component prefix test on normalised paths (so /media/scene never contains /media/scenes2)."""
    parts, base = _components(path, fold=True), _components(folder, fold=True)
    return bool(base) and parts[:len(base)] == base


def suggest_prefixes(stash_path: str, plex_path: str) -> tuple[str, str] | None:
    """Strip the common tail of two paths of one file; what is left is a path_map pair (None if equal)."""
    s, p = _components(stash_path), _components(plex_path)
    fold = is_windows_path(stash_path) or is_windows_path(plex_path)
    common = 0
    while common < min(len(s), len(p)):
        a, b = s[-1 - common], p[-1 - common]
        if (a.casefold() == b.casefold()) if fold else (a == b):
            common += 1
        else:
            break
    if common == 0:
        return None
    s_head, p_head = s[:len(s) - common], p[:len(p) - common]
    if s_head == p_head:
        return None

    def join(parts: list[str], original: str) -> str:
        if not parts:
            return "/"
        text = "/".join(parts)
        if original.startswith(("\\\\", "//")):
            return "//" + text + "/"  # a share keeps its UNC lead (//server/share/)
        return (text if is_windows_path(original) else "/" + text) + "/"
    return join(s_head, stash_path), join(p_head, plex_path)


def _check_reachable(settings: Settings) -> tuple[bool, str]:
    """GET /identity needs no token: it separates "Plex is down / wrong URL" from "bad token"."""
    import requests  # noqa: PLC0415 - tasks only

    url = settings.plex_url.rstrip("/") + "/identity"
    try:
        response = requests.get(url, timeout=(settings.connect_timeout, settings.read_timeout),
                                headers={"Accept": "application/xml"})
    except requests.RequestException as exc:
        return False, f"Plex is not reachable at {settings.plex_url}: {type(exc).__name__}"
    if response.status_code != 200:
        return False, f"Plex at {settings.plex_url} answered HTTP {response.status_code} to /identity"
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        return False, f"{settings.plex_url} answered, but not like Plex Media Server (no XML identity)"
    return True, (f"Plex reachable at {settings.plex_url} (version {root.attrib.get('version', '?')}, "
                  f"server id {root.attrib.get('machineIdentifier', '?')})")


def _sample(client: StashClient) -> list[dict[str, Any]]:
    return list(iter_scene_pages(client, SAMPLE_FIELDS, per_page=SAMPLE_SIZE, limit=SAMPLE_SIZE,
                                 direction="DESC"))


def _path_map_text(path_map: Iterable[tuple[str, str]]) -> str:
    pairs = [f"{a}=>{b}" for a, b in path_map]
    return "; ".join(pairs) if pairs else "(empty)"


def health_check(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    started = time.monotonic()
    missing = settings.missing_plex_message()
    if missing:
        log.error(f"Health: {missing}")
        return "Plex not configured"
    reachable, text = _check_reachable(settings)
    if not reachable:
        log.error(f"Health: {text}; check the Plex server URL (from Stash's machine or container, not "
                  f"localhost when Stash runs in Docker)")
        return "Plex unreachable"
    log.info(f"Health: {text}")

    from plex.client import ErrorKind, classify_error, connect, movie_sections, safe_error_text  # noqa: PLC0415
    from plex.index import PathIndex  # noqa: PLC0415
    from plex.matcher import Confidence, Matcher  # noqa: PLC0415

    try:
        plex = connect(settings)
        all_movie = [s for s in plex.library.sections() if s.type == "movie"]
        sections = movie_sections(plex, settings.plex_libraries)
    except Exception as exc:  # noqa: BLE001 - classified into one clear line
        if classify_error(exc) is ErrorKind.AUTH:
            log.error("Health: Plex rejected the token (401 Unauthorized): set a valid X-Plex-Token in "
                      "Stash Settings -> Plugins -> PlexSync")
            return "token rejected"
        log.error(f"Health: Plex request failed: {safe_error_text(exc, settings.plex_token)}")
        return "Plex error"
    log.info("Health: Plex token valid")
    described = ", ".join(f"'{s.title}' ({', '.join(s.locations) or 'no folder'})" for s in all_movie)
    log.info(f"Health: Plex movie libraries: {described or 'none'}")
    unknown = getattr(sections, "unknown", ())
    if unknown:
        log.warning(f"Health: plex_libraries names {', '.join(repr(u) for u in unknown)}, which Plex does not "
                    f"have as a movie library")
    if not sections:
        log.error("Health: no Plex movie library to sync into: check the plex_libraries setting")
        return "no library"
    log.info(f"Health: syncing into {', '.join(repr(s.title) for s in sections)}")

    index = PathIndex(runtime.conn, plex, sections, settings.path_map)
    index.ensure_fresh(max_age=index.rebuild_interval)
    matcher = Matcher(plex, index, settings)
    scenes = _sample(client)
    locations = [loc for s in sections for loc in s.locations]
    counts: Counter[str] = Counter()
    unmatched: list[str] = []
    suggestions: Counter[tuple[str, str]] = Counter()
    stash_heads: Counter[str] = Counter()
    inside = 0
    with_files = 0
    for scene in scenes:
        paths = [f["path"] for f in scene.get("files") or [] if isinstance(f, dict) and f.get("path")]
        if paths:
            with_files += 1
            stash_heads[head(paths[0])] += 1
            mapped = map_stash_path(paths[0], settings.path_map)
            inside += any(is_under(mapped, loc) for loc in locations)
        result = matcher.match_paths(paths, scene.get("urls") or [])
        counts[result.confidence.value] += 1
        if result.confidence is Confidence.NONE or result.basename_only:
            if paths and len(unmatched) < EXAMPLES:
                found = "; only its file name is in Plex" if result.basename_only else ""
                unmatched.append(f"scene {scene['id']}: {paths[0]} (looked for "
                                 f"{map_stash_path(paths[0], settings.path_map)}{found})")
            for path in paths[:1]:
                for cand in index.lookup_basename(path):
                    pair = suggest_prefixes(path, cand.plex_path)
                    if pair:
                        suggestions[pair] += 1
    high, low, none = counts["high"], counts["low"], counts["none"]
    marks = ",".join("?" * len(index.section_ids))  # only the configured libraries count
    indexed = index.conn.execute(f"SELECT count(DISTINCT rating_key) FROM path_index WHERE section_id IN ({marks})",
                                 index.section_ids).fetchone()[0]
    log.info(f"Health: {len(scenes)} sampled Stash scene(s): {high} match HIGH, {low} LOW, {none} not at all "
             f"(path index: {indexed} Plex item(s))")
    for line in unmatched:
        log.info(f"Health: no Plex item has the path of {line}")
    hint = _path_map_hint(settings, with_files, inside, high, stash_heads, locations, suggestions)
    if hint:
        log.warning(f"Health: {hint}")
    summary = (f"Health: Plex OK, token OK, {len(sections)} library(ies); sample of {len(scenes)}: "
               f"{high} HIGH, {low} LOW, {none} none{'; path_map looks wrong' if hint else ''}; "
               f"in {time.monotonic() - started:.1f} s")
    log.info(summary)
    return summary


def _path_map_hint(settings: Settings, with_files: int, inside: int, high: int, stash_heads: Counter[str],
                   locations: list[str], suggestions: Counter[tuple[str, str]]) -> str | None:
    """A hint only when paths clearly do not line up: no mapped Stash file lies in a Plex library folder,
    or fewer than half of the sampled scenes with files match HIGH."""
    if not with_files or (inside and high * 2 >= with_files):
        return None
    heads = ", ".join(h for h, _ in stash_heads.most_common(3))
    parts = []
    if not inside:
        parts.append(f"no Stash file path (after path_map {_path_map_text(settings.path_map)}) lies inside a "
                     f"Plex library folder: Stash files are under {heads}; Plex libraries are at "
                     f"{', '.join(locations) or 'no folder'}")
    else:
        parts.append(f"only {high} of {with_files} sampled scenes match a Plex item by path "
                     f"(path_map {_path_map_text(settings.path_map)})")
    if suggestions:
        (stash_prefix, plex_prefix), votes = suggestions.most_common(1)[0]
        parts.append(f"{votes} file(s) exist in Plex under another prefix: try path_map "
                     f"'{stash_prefix}=>{plex_prefix}'")
    else:
        parts.append("set path_map to 'Stash prefix=>Plex prefix' so Stash paths become the paths Plex shows")
    return "path_map looks wrong: " + "; ".join(parts)
