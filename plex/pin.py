"""Plex item URLs: the user's explicit pin of a scene to a Plex item (DESIGN.md "Matching and confidence").

Users copy the address bar of Plex Web:
  https://app.plex.tv/desktop/#!/server/<machineIdentifier>/details?key=%2Flibrary%2Fmetadata%2F<ratingKey>
  http://<host>:32400/web/index.html#!/server/<machineIdentifier>/details?key=...
encoded or not (some browsers / copy paths decode it, some encode the whole thing once more).
"""
from __future__ import annotations

import re
from urllib.parse import quote, unquote

_PIN = re.compile(
    r"#!?/server/(?P<mid>[^/?#&\s]+)/details\?(?:[^#\s]*?&)?key=/library/metadata/(?P<rk>\d+)(?=$|[&/?#\s])",
    re.IGNORECASE,
)


def _decoded_forms(url: str) -> list[str]:
    forms = [url]
    for _ in range(3):  # at most triple-encoded; bounded so a hostile string cannot loop
        nxt = unquote(forms[-1])
        if nxt == forms[-1]:
            break
        forms.append(nxt)
    return forms


def parse_plex_item_url(url: str, machine_identifier: str) -> int | None:
    """ratingKey pinned by `url` when it is a Plex Web item URL of *this* server, else None."""
    if not url or not isinstance(url, str) or not machine_identifier:
        return None
    text = url.strip()
    if not re.match(r"^https?(://|%3A%2F%2F)", text, re.IGNORECASE):
        return None
    for form in _decoded_forms(text):
        m = _PIN.search(form)
        if m:
            if m.group("mid").lower() != machine_identifier.lower():
                return None  # another Plex server's item: ignored, not an error
            rating_key = int(m.group("rk"))
            return rating_key if 0 < rating_key <= 2**63 - 1 else None  # SQLite's integer range
    return None


def item_url(machine_identifier: str, rating_key: int) -> str:
    """The app.plex.tv address a user can open and paste into the scene's URLs to pin it."""
    key = quote(f"/library/metadata/{int(rating_key)}", safe="")
    return f"https://app.plex.tv/desktop/#!/server/{machine_identifier}/details?key={key}"
