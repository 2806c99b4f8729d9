"""Path normalisation and Stash -> Plex prefix mapping (DESIGN.md "Matching and confidence").

Stash and Plex often see one file under different paths (Docker mounts, Windows drives, NAS
shares). Comparison keys are built with `normalise_path`; `map_stash_path` rewrites the first
`path_map` prefix that matches on whole path components.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable

_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")
_SLASHES = re.compile(r"/{2,}")


def _is_unc(path: str) -> bool:
    # Shares: \\server\share\... as Windows reports them, or //server/share as users type them in path_map.
    return (path.startswith("\\\\") or path.startswith("\\/") or path.startswith("/\\")
            or (path.startswith("//") and len(path) > 2 and path[2] not in "/\\"))


def is_windows_path(path: str) -> bool:
    p = path.replace("\\", "/")
    return bool(_DRIVE.match(p)) or _is_unc(path)


def _clean(path: str) -> str:
    """Separators to '/', NFC, duplicate slashes collapsed, trailing slash stripped; case kept."""
    unc = _is_unc(path)
    p = unicodedata.normalize("NFC", path).replace("\\", "/")
    p = _SLASHES.sub("/", p)
    if unc:
        p = "/" + p if not p.startswith("//") else p  # keep the UNC '//' lead
    if len(p) > 1 and p.endswith("/") and not (len(p) == 3 and _DRIVE.match(p)):
        p = p.rstrip("/") or "/"
    return p


def normalise_path(path: str) -> str:
    """Comparison key: '/' separators, NFC, single slashes, no trailing slash; Windows paths case-folded."""
    if not path:
        return ""
    p = _clean(path)
    if is_windows_path(path):
        p = p.casefold()
    return p


def basename_key(path: str) -> str:
    """Name-only key (case-folded: a name-only match is LOW confidence anyway)."""
    p = normalise_path(path)
    return p.rsplit("/", 1)[-1].casefold()


def _components(clean: str) -> list[str]:
    return clean.split("/")


def map_stash_path(path: str, path_map: Iterable[tuple[str, str]] | None) -> str:
    """Rewrite the first matching (stash_prefix, plex_prefix) pair; prefixes match whole components,
    compared on the normalised form (so '/data' never matches '/database'). No match: path unchanged."""
    if not path or not path_map:
        return path
    clean = _clean(path)
    parts = _components(clean)
    fold = is_windows_path(path)
    for stash_prefix, plex_prefix in path_map:
        if not stash_prefix:
            continue
        pre = _clean(stash_prefix)
        pre_parts = [""] if pre == "/" else _components(pre)
        if pre_parts and pre_parts[-1] == "" and len(pre_parts) > 1:
            pre_parts = pre_parts[:-1]  # 'C:/' -> ['C:']
        if len(pre_parts) > len(parts):
            continue
        fold_this = fold or is_windows_path(stash_prefix)
        head = parts[: len(pre_parts)]
        if fold_this:
            same = [a.casefold() for a in head] == [b.casefold() for b in pre_parts]
        else:
            same = head == pre_parts
        if not same:
            continue
        rest = parts[len(pre_parts):]
        sep = "\\" if ("\\" in plex_prefix and "/" not in plex_prefix) else "/"
        base = plex_prefix.rstrip("/\\")
        if not rest:
            return base or plex_prefix
        return base + sep + sep.join(rest)
    return path
