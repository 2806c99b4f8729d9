"""Which of a scene's tags reach Plex: exclusions by name and by parent tag (Stash's tag hierarchy).

Stash tags form a hierarchy (Tag.parents / Tag.children, several parents allowed). Excluding a parent
excludes every tag below it, at any depth, so workflow tags such as "To review" filed under a
"Workflow" parent never reach Plex. Names compare case-insensitively (Stash's tag names are unique
without regard to case). Pure functions: the worker supplies each tag's parents (worker/tag_tree.py).
"""
from __future__ import annotations

TYPE_CHECKING = False  # the hook path avoids importing typing (bench/hook_latency.py)
if TYPE_CHECKING:
    from typing import Any, Iterable


def parse_names(value: str) -> tuple[str, ...]:
    """A comma-separated settings value -> names, blank-free, deduplicated case-insensitively, in order."""
    seen: dict[str, str] = {}
    for part in (value or "").split(","):
        name = part.strip()
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return tuple(seen.values())


def folded(names: Iterable[str]) -> frozenset[str]:
    return frozenset(n.casefold() for n in names)


# ParentLookup: tag id -> [(parent id, parent name)]; the worker's lookup may query Stash for tags it has
# not seen. A string annotation, so typing is not imported at run time.
ParentLookup = "Callable[[str], list[tuple[str, str]]]"


def excluded(tag: dict[str, Any], names: frozenset[str], under: frozenset[str],
             parents_of: ParentLookup | None) -> bool:
    """True when the tag is named in `names`/`under`, or has an ancestor named in `under`."""
    name = str(tag.get("name") or "").casefold()
    if name in names or name in under:
        return True
    if not under or parents_of is None or tag.get("id") is None:
        return False
    seen: set[str] = set()
    frontier = [str(tag["id"])]
    while frontier:  # breadth-first up the hierarchy; `seen` stops a cycle
        tag_id = frontier.pop()
        for parent_id, parent_name in parents_of(tag_id):
            if parent_name.casefold() in under:
                return True
            if parent_id not in seen:
                seen.add(parent_id)
                frontier.append(parent_id)
    return False


def kept_tags(tags: Any, names: frozenset[str], under: frozenset[str],
              parents_of: ParentLookup | None) -> list[Any]:
    """The scene's tag objects minus the excluded ones (order kept)."""
    if not isinstance(tags, list):
        return []
    if not names and not under:
        return list(tags)
    return [t for t in tags if not (isinstance(t, dict) and excluded(t, names, under, parents_of))]
