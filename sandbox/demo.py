"""`python -m sandbox demo`: PlexSync at work in under a minute, against a simulated Stash and Plex.

Starts a fresh sandbox (temporary folder, small seeded library, plugin installed), edits scenes through
Stash's GraphQL API so the real hooks fire (a single edit, a bulk edit, a performer rename, an ambiguous
match), lets the "Process queue" task drain, then prints what Stash's log viewer shows and a before/after
table of the Plex items that changed. Finally it resolves the ambiguous match by pinning a Plex item URL.
Output goes to stdout (this is a demo, not the plugin). The Plex token is never printed.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from typing import Any, Callable

from plex.pin import item_url
from sandbox import Sandbox

WAIT = 60.0          # upper bound for one round of drains; the demo normally needs a few seconds
TABLE_FIELDS = ("title", "studio", "summary", "originallyAvailableAt", "tagline", "userRating",
                "genres", "actors", "directors")
WIDTH = 34


class Demo:
    def __init__(self, sb: Sandbox, out: Callable[[str], None] = print) -> None:
        self.sb = sb
        self.out = out
        self.log_start = 0
        self.failures: list[str] = []

    # --- output helpers ---
    def say(self, text: str = "") -> None:
        self.out(self.sb.plex.token and text.replace(self.sb.plex.token, "***") or text)

    def step(self, title: str) -> None:
        self.say("")
        self.say(f"== {title}")

    def gql(self, label: str, query: str, variables: dict[str, Any] | None = None) -> dict:
        """Send a mutation as the Stash UI would; the hooks run inside it, so its time is the user's wait."""
        started = time.monotonic()
        result = self.sb.stash.gql(query, variables)
        elapsed = time.monotonic() - started
        if result.get("errors"):
            self.failures.append(f"{label}: {result['errors']}")
        self.say(f"   {label}: Save returned in {elapsed:.2f} s (PlexSync's hooks ran inside it)")
        return result

    def wait_for_drains(self) -> None:
        started = time.monotonic()
        if not self.sb.host.wait_idle(WAIT):
            self.failures.append(f"Stash's job queue was still busy after {WAIT:.0f} s")
        self.say(f"   'Process queue' drained in {time.monotonic() - started:.1f} s")

    def print_log(self) -> None:
        """The lines Stash's log viewer shows at its default level (Info), from PlexSync and about it."""
        entries = self.sb.host.log_snapshot()
        new, self.log_start = entries[self.log_start:], len(entries)
        hidden = 0
        for level, text in new:
            if level in ("debug", "trace"):
                hidden += 1
                continue
            self.say(f"   {level.upper():7} {text}")
        if hidden:
            self.say(f"   ({hidden} debug lines hidden, as at Stash's default log level)")

    # --- the story ---
    def run(self) -> int:
        sb, world = self.sb, self.sb.world
        assert world is not None
        before = {item["rating_key"]: item for item in sb.plex.items()}
        self.say(f"Sandbox: simulated Stash at {sb.stash.url}, simulated Plex at {sb.plex.url}")
        self.say(f"         {len(world.scene_ids)} scenes in Stash, {len(before)} items in Plex, "
                 f"path_map {world.path_map}, plugin in {sb.plugin_dir}")

        self.step("1. A single edit: scene 1 gets a new title, details and a tag")
        tag = world.tags["Travel"]
        self.gql("sceneUpdate", 'mutation($tags: [ID!]) { sceneUpdate(input: {id: "1", '
                 'title: "Harbor Lights — Director’s Cut 🎬", details: "Filmed at dawn.\\nTwo takes.", '
                 'tag_ids: $tags}) { id } }', {"tags": [str(tag)] + [str(t["id"]) for t in
                                                                     sb.stash.scene(1)["tags"]]})

        self.step("2. A bulk edit: scenes 2-5 get a director and the studio 'Red Fern Media'")
        self.gql("bulkSceneUpdate", 'mutation($ids: [ID!], $studio: ID) { bulkSceneUpdate(input: '
                 '{ids: $ids, director: "Mira Kovac", studio_id: $studio}) { id } }',
                 {"ids": ["2", "3", "4", "5"], "studio": str(world.studios["Red Fern Media"])})

        self.step("3. A performer rename (no scene hook fires; PlexSync's performer hook queues that performer's scenes)")
        performer = sb.stash.scene(6)["performers"][0]
        new_name = performer["name"].split()[0] + " Nightingale"
        self.say(f"   '{performer['name']}' -> '{new_name}'")
        self.gql("performerUpdate", 'mutation($id: ID!, $name: String) { performerUpdate(input: '
                 '{id: $id, name: $name}) { id } }', {"id": str(performer["id"]), "name": new_name})

        ambiguous = world.clash_both_sections
        assert ambiguous is not None
        self.step(f"4. An ambiguous match: scene {ambiguous}'s file is in two Plex libraries")
        self.gql("sceneUpdate", 'mutation($id: ID!) { sceneUpdate(input: {id: $id, '
                 'title: "Which one is it?"}) { id } }', {"id": str(ambiguous)})

        self.step("Stash's job queue runs 'Process queue'")
        self.wait_for_drains()
        self.print_log()

        self.step("5. Resolving the review line: pin the Plex item by adding its URL to the scene's URLs")
        chosen = world.scene_rating_keys[ambiguous][0]
        url = item_url(sb.plex.machine_identifier, chosen)
        self.say(f"   URL (as copied from Plex Web): {url}")
        urls = list(sb.stash.scene(ambiguous)["urls"]) + [url]
        self.gql("sceneUpdate", 'mutation($id: ID!, $urls: [String!]) { sceneUpdate(input: {id: $id, '
                 'urls: $urls}) { id } }', {"id": str(ambiguous), "urls": urls})
        self.wait_for_drains()
        self.print_log()

        after = {item["rating_key"]: item for item in sb.plex.items()}
        self.step("Plex items before -> after (only fields that changed; * = locked against Plex refreshes)")
        self.print_table(before, after)
        self.check(after, performer_name=new_name, ambiguous_key=chosen)
        self.say("")
        if self.failures:
            for failure in self.failures:
                self.say(f"DEMO PROBLEM: {failure}")
            return 1
        self.say(f"Done. {sb.plex.request_count()} requests reached Plex. "
                 f"Try it yourself: python -m sandbox up --dir /tmp/plexsync-sandbox")
        return 0

    def print_table(self, before: dict[int, dict], after: dict[int, dict]) -> None:
        scene_of = {rk: sid for sid, keys in self.sb.world.scene_rating_keys.items() for rk in keys}
        header = f"   {'item':>6} {'scene':>5}  {'field':<22} {'before':<{WIDTH}} after"
        self.say(header)
        self.say("   " + "-" * (len(header) + WIDTH - 3))
        for rk in sorted(after):
            old, new = before.get(rk, {}), after[rk]
            for name in TABLE_FIELDS:
                if old.get(name) != new.get(name):
                    lock = "*" if _lock_name(name) in new.get("locked", set()) else " "
                    self.say(f"   {rk:>6} {scene_of.get(rk, '-'):>5}  {name:<21}{lock} "
                             f"{_cell(old.get(name)):<{WIDTH}} {_cell(new.get(name))}")
            if old.get("poster_sha1") != new.get("poster_sha1"):
                self.say(f"   {rk:>6} {scene_of.get(rk, '-'):>5}  {'poster':<22} "
                         f"{_cell(old.get('poster_sha1')):<{WIDTH}} uploaded from the Stash cover")

    def check(self, after: dict[int, dict], performer_name: str, ambiguous_key: int) -> None:
        keys = self.sb.world.scene_rating_keys
        expectations = [
            ("single edit", after[keys[1][0]]["title"] == "Harbor Lights — Director’s Cut 🎬"),
            ("bulk edit", all(after[keys[s][0]]["directors"] == ["Mira Kovac"] for s in (2, 3, 4, 5))),
            ("performer rename", any(performer_name in item["actors"] for item in after.values())),
            ("pinned ambiguous scene", after[ambiguous_key]["title"] == "Which one is it?"),
        ]
        self.failures += [f"{name} did not reach Plex" for name, ok in expectations if not ok]


def _lock_name(field: str) -> str:
    # Plex locks tag fields under their singular name.
    return {"genres": "genre", "actors": "actor", "directors": "director"}.get(field, field)


def _cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        text = "-"
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="working folder (default: a fresh temporary folder, removed afterwards)")
    parser.add_argument("--scenes", type=int, default=12, help="Stash scenes to seed (default 12, at least 8)")
    opts = parser.parse_args(argv or [])
    root = opts.dir or tempfile.mkdtemp(prefix="plexsync-demo-")
    try:
        with Sandbox(root, scenes=max(8, opts.scenes), plex_items=max(8, opts.scenes) + 8) as sb:
            if not sb.plugin_installed or "PlexSync" not in sb.host.plugins:
                print("PlexSync did not load into the sandbox host; see the log:")
                for level, text in sb.host.log_snapshot():
                    print(f"   {level.upper():7} {text}")
                return 1
            return Demo(sb).run()
    finally:
        if not opts.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    # `python -m sandbox demo` is the documented command; this also allows `python -m sandbox.demo --dir X`
    # (argparse's REMAINDER in sandbox/__main__.py does not pass options that come first).
    import sys
    sys.exit(main(sys.argv[1:]))
