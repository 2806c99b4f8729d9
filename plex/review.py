"""The one-line LOW CONFIDENCE review message (DESIGN.md "Matching and confidence").

Stash splits plugin stderr on newlines (a second line loses its level) and stops reading stderr
after a 64 KiB line, so the message is a single line, escaped and capped.
"""
from __future__ import annotations

import re
from typing import Sequence

from plex.index import Candidate

MAX_LINE = 8000          # well under Stash's 64 KiB line limit
MAX_PATH = 1000          # a single pathological path cannot eat the whole line

# Newlines, other C0/C1 controls (\x01/\x02 would forge Stash log levels), DEL and Unicode line breaks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: object, limit: int = MAX_PATH) -> str:
    s = str(text)
    s = _UNSAFE.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m.group(0), f"\\x{ord(m.group(0)):02x}")
                    if ord(m.group(0)) < 0x100 else f"\\u{ord(m.group(0)):04x}", s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def _describe(c: Candidate) -> str:
    return f"[ratingKey {c.rating_key} '{one_line(c.plex_path)}' {one_line(c.url)}]"


def format_review_line(scene_id: int | str, stash_path: str | None, candidates: Sequence[Candidate],
                       chosen: Candidate | None, strict: bool) -> str:
    """One line starting 'LOW CONFIDENCE' naming the scene, its Stash path, every candidate and the way out."""
    head = (f"LOW CONFIDENCE scene {one_line(scene_id, 64)} '{one_line(stash_path or '(no file)')}': "
            f"{len(candidates)} Plex candidate{'s' if len(candidates) != 1 else ''}: ")
    pin = "to pin one, add its item URL to the scene's URLs in Stash"
    if strict or chosen is None:
        tail = f"; not synced (Allow uncertain matches is off); {pin}" if strict else f"; not synced; {pin}"
    else:
        tail = (f"; synced ratingKey {chosen.rating_key} '{one_line(chosen.plex_path)}' because "
                f"Allow uncertain matches is on; to choose another, add its item URL to the scene's URLs in Stash")
    budget = MAX_LINE - len(head) - len(tail) - 40
    parts: list[str] = []
    used = 0
    for i, c in enumerate(candidates):
        d = _describe(c)
        if used + len(d) + 1 > budget:
            parts.append(f"+{len(candidates) - i} more candidates")
            break
        parts.append(d)
        used += len(d) + 1
    line = head + " ".join(parts) + tail
    return line[:MAX_LINE]
