"""Title and sort title templates: `{performers} - {title} ({date})` -> the text written to Plex.

Pure functions, standard library only (the hook validates templates through validation/config.py).

How empty placeholders vanish (so no " - " or "()" is left dangling):
- A bracket pair, `( )` or `[ ]`, that holds placeholders which are all empty vanishes whole, with the
  text inside it: `({date})` and `[#{scene_index}]` disappear when there is no date / no index.
- Text between two placeholders (or bracket groups) is a separator: it is kept only when something
  non-empty comes before it and the placeholder after it is non-empty. When placeholders in between are
  empty, the separator written is the one just before the next non-empty value:
  `{performers} - {title} ({date})` with no title gives `Ann, Bo (2021-07-01)`.
- Text before the first placeholder belongs to it, text after the last one belongs to that one.
- `{{` and `}}` are literal braces.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Union

PLACEHOLDERS = ("title", "studio", "parent_studio", "date", "year", "code", "performers", "first_performer",
                "group", "scene_index")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[()\[\]]|[^{}()\[\]]+|[{}]")
_CLOSING = {"(": ")", "[": "]"}


class TemplateError(ValueError):
    """A template names a placeholder that does not exist."""


@dataclass
class _Field:
    name: str


@dataclass
class _Group:
    open: str
    items: list["_Node"]
    close: str


_Node = Union[str, _Field, _Group]


def placeholder_name(raw: str) -> str:
    """`First Performer`, `first-performer` and `first_performer` all name the same placeholder."""
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


@functools.lru_cache(maxsize=16)  # a template is a setting: parsed once per process, not once per scene
def parse_template(template: str) -> list[_Node]:
    """Template text -> nodes (never mutated by callers); raises TemplateError naming an unknown placeholder."""
    stack: list[tuple[str, list[_Node]]] = [("", [])]
    for m in _TOKEN.finditer(template):
        token = m.group(0)
        items = stack[-1][1]
        if token in ("{{", "}}"):
            items.append(token[0])
        elif m.group(1) is not None:
            name = placeholder_name(m.group(1))
            if name not in PLACEHOLDERS:
                raise TemplateError(f"unknown placeholder {{{m.group(1)}}} (known: "
                                    + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + ")")
            items.append(_Field(name))
        elif token in _CLOSING:
            stack.append((token, []))
        elif token in (")", "]") and len(stack) > 1 and _CLOSING[stack[-1][0]] == token:
            opener, inner = stack.pop()
            stack[-1][1].append(_Group(opener, inner, token))
        else:
            items.append(token)  # text, a lone brace or an unmatched bracket: literal
    while len(stack) > 1:  # an unclosed bracket is plain text
        opener, inner = stack.pop()
        stack[-1][1].extend([opener, *inner])
    return stack[0][1]


def check_template(template: str) -> str | None:
    """None when the template is usable, else the problem in one line."""
    try:
        parse_template(template)
    except TemplateError as exc:
        return str(exc)
    return None


def _has_field(nodes: list[_Node]) -> bool:
    return any(isinstance(n, _Field) or (isinstance(n, _Group) and _has_field(n.items)) for n in nodes)


def _render(nodes: list[_Node], value: Callable[[str], str]) -> str:
    # Merge adjacent text, then lay out units (placeholders, groups) with the text between them.
    seq: list[tuple[bool, str]] = []  # (is_unit, text)
    for node in nodes:
        if isinstance(node, str):
            if seq and not seq[-1][0]:
                seq[-1] = (False, seq[-1][1] + node)
            else:
                seq.append((False, node))
        elif isinstance(node, _Field):
            seq.append((True, value(node.name)))
        else:
            inner = _render(node.items, value)
            empty = _has_field(node.items) and not inner.strip()
            seq.append((True, "" if empty else node.open + inner + node.close))
    unit_positions = [i for i, (is_unit, _) in enumerate(seq) if is_unit]
    if not unit_positions:
        return "".join(text for _, text in seq)
    first, last = unit_positions[0], unit_positions[-1]
    out: list[str] = []
    written = False
    for i in unit_positions:
        text = seq[i][1]
        if not text:
            continue
        before = seq[i - 1][1] if i > 0 and not seq[i - 1][0] else ""
        if written or i == first:
            out.append(before)
        out.append(text)
        written = True
    if written and seq[last][1] and last + 1 < len(seq):
        out.append(seq[last + 1][1])
    return "".join(out)


def render_template(template: str, values: Mapping[str, str] | Callable[[str], str]) -> str:
    """Render `template`; whitespace at both ends is dropped. Unknown placeholders raise TemplateError."""
    lookup: Callable[[str], str]
    if callable(values):
        lookup = values
    else:
        lookup = lambda name: str(values.get(name) or "")  # noqa: E731
    return _render(parse_template(template), lambda name: (lookup(name) or "").strip()).strip()


def uses_placeholder(template: str, name: str) -> bool:
    try:
        nodes = parse_template(template)
    except TemplateError:
        return False

    def walk(items: list[_Node]) -> bool:
        return any((isinstance(n, _Field) and n.name == name) or (isinstance(n, _Group) and walk(n.items))
                   for n in items)
    return walk(nodes)


def scene_placeholder_values(scene: Mapping[str, Any], file_title: str,
                             clean: Callable[[Any], str]) -> dict[str, str]:
    """Placeholder -> text for one Stash scene (as read by worker/stash_reader.SCENE_FRAGMENT).
    {title} is the file name when the scene has no title, as the plain title always was."""
    def name_of(obj: Any) -> str:
        return clean(obj.get("name")) if isinstance(obj, dict) else ""

    def listed(key: str) -> list[Any]:  # a GraphQL list, or nothing (a wrong type must not stop a drain)
        value = scene.get(key)
        return list(value) if isinstance(value, (list, tuple)) else []

    studio = scene.get("studio") if isinstance(scene.get("studio"), dict) else {}
    parent = studio.get("parent_studio") if isinstance(studio.get("parent_studio"), dict) else {}
    performers = [n for n in (name_of(p).strip() for p in listed("performers")) if n]
    groups = [g for g in listed("groups") if isinstance(g, dict)]
    first_group = groups[0] if groups else {}
    group_obj = first_group.get("group") if isinstance(first_group.get("group"), dict) else {}
    index = first_group.get("scene_index")
    date = clean(scene.get("date")).strip()
    year_match = re.match(r"^\s*(\d{4})", date)
    title = clean(scene.get("title")).strip() or file_title
    return {
        "title": title,
        "studio": name_of(studio).strip(),
        "parent_studio": name_of(parent).strip(),
        "date": date,
        "year": year_match.group(1) if year_match else "",
        "code": clean(scene.get("code")).strip(),
        "performers": ", ".join(dict.fromkeys(performers)),
        "first_performer": performers[0] if performers else "",
        "group": name_of(group_obj).strip(),
        "scene_index": "" if index is None or isinstance(index, bool) else str(index),
    }
