"""Collections: what managed collections add to a 2,000-scene "Sync all" (Plex requests and time).

Sandbox as bench/bulk_sync.py (20,000 Plex items, 2,000 scenes, 2 ms added latency per Plex request). Per
run, on fresh seeded sandboxes with the same seed: Sync all with collections off (baseline), then Sync all
with studio, parent-studio and group collections on (every seeded scene has a studio; every fourth is in
one of three groups; one studio has a parent; studios and groups get an image and text, so every
collection gets a poster and a summary), then the same Sync all again with nothing changed.
Collection requests are those on collections themselves: the type=18 listing, collection edits, prefs,
children, moves, collection posters, deletes.

    python -m bench.collections [--runs 3] [--scenes 2000] [--plex-items 20000] [--latency-ms 2]
"""
from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from bench.common import Stats, machine, publish

COMMAND = "python -m bench.collections"
WAIT = 900.0
SETTINGS = {"collections_from_studio": True, "collections_from_parent_studios": True,
            "collections_from_groups": True}


@dataclass
class Phase:
    wall: float
    plex_requests: int
    collection_requests: int
    collections: int


def _is_collection_request(r: dict[str, Any], collection_keys: set[int]) -> bool:
    if r["query"].get("type") == "18":
        return True
    parts = r["path"].split("/")
    return len(parts) > 3 and parts[1:3] == ["library", "metadata"] and parts[3].isdigit() \
        and int(parts[3]) in collection_keys


def _phase(sb: Any) -> Phase:
    sb.plex.reset_requests()
    started = time.monotonic()
    sb.host.run_task("PlexSync", "Sync all", {})
    if not sb.host.wait_idle(WAIT):
        raise RuntimeError(f"Sync all + drain did not finish within {WAIT:.0f} s")
    wall = time.monotonic() - started
    requests = list(sb.plex.requests)
    colls = sb.plex.collections(sb.world.sections["Scenes"])
    keys = {c["rating_key"] for c in colls}
    return Phase(wall, len(requests), sum(1 for r in requests if _is_collection_request(r, keys)), len(colls))


def _decorate(sb: Any) -> None:
    """An image and text for every studio and group (what makes collection posters and summaries)."""
    from sandbox.seed import tiny_png
    for kind, table, field, text in (("studio", sb.world.studios, "image", "details"),
                                     ("group", sb.world.groups, "front_image", "synopsis")):
        for n, object_id in enumerate(table.values()):
            url = "data:image/png;base64," + base64.b64encode(tiny_png((n * 40 % 256, 90, 200))).decode()
            mutation = "studioUpdate" if kind == "studio" else "groupUpdate"
            input_type = "StudioUpdateInput" if kind == "studio" else "GroupUpdateInput"
            result = sb.stash.gql(f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ id }} }}",
                                  {"i": {"id": str(object_id), field: url, text: f"About {kind} {n}."}})
            assert not result.get("errors"), result


def measure(runs: int = 3, scenes: int = 2000, plex_items: int = 20000,
            latency_ms: float = 2.0) -> list[tuple[Phase, Phase, Phase]]:
    from sandbox import Sandbox

    results = []
    for i in range(runs):
        phases = []
        for on in (False, True):
            with tempfile.TemporaryDirectory(prefix="plexsync-coll-") as root:
                with Sandbox(root, scenes=scenes, plex_items=plex_items, latency_ms=latency_ms, seed=1 + i) as sb:
                    if on:
                        _decorate(sb)
                        sb.stash.set_plugin_config("PlexSync", dict(sb.stash.plugin_config("PlexSync"), **SETTINGS))
                    phases.append(_phase(sb))
                    if on:
                        phases.append(_phase(sb))
        base, first, again = phases
        print(f"[collections] run {i + 1}/{runs}: off {base.wall:.1f} s / {base.plex_requests} requests; on "
              f"{first.wall:.1f} s / {first.plex_requests} requests ({first.collection_requests} on "
              f"{first.collections} collections); unchanged {again.plex_requests} requests", flush=True)
        results.append((base, first, again))
    return results


def _s(values: list[float], fmt: str = "{:.1f}") -> str:
    st = Stats.of(values)
    low, mid, high = fmt.format(st.minimum), fmt.format(st.median), fmt.format(st.maximum)
    return mid if low == high else f"{mid} ({low}-{high})"


def section(results: list[tuple[Phase, Phase, Phase]], scenes: int, plex_items: int, latency_ms: float) -> str:
    base = [r[0] for r in results]
    on = [r[1] for r in results]
    again = [r[2] for r in results]
    extra = [o.plex_requests - b.plex_requests for b, o in zip(base, on)]
    ratio = [o.wall / b.wall for b, o in zip(base, on)]
    lines = [
        "## Collections",
        "",
        f"Sandbox: {plex_items:,} Plex items, {scenes:,} Stash scenes, {latency_ms:g} ms added latency per Plex "
        f"request; studio, parent-studio and group collections on (every studio and group with an image and "
        f"text); {len(results)} runs, each pair on fresh sandboxes with the same seed; median (min-max). "
        f"Wall time from pressing \"Sync all\" until Stash's job queue is idle.  ",
        f"Reproduce: `{COMMAND} --runs {len(results)}` (or `python -m bench`)  ",
        f"Machine: {machine()}",
        "",
        "| Sync all | Plex requests | of which on collections | collections in Plex | wall time (s) |",
        "|---|---|---|---|---|",
        f"| collections off | {_s([b.plex_requests for b in base], '{:.0f}')} | 0 | 0 | "
        f"{_s([b.wall for b in base])} |",
        f"| collections on (first) | {_s([o.plex_requests for o in on], '{:.0f}')} | "
        f"{_s([o.collection_requests for o in on], '{:.0f}')} | {_s([o.collections for o in on], '{:.0f}')} | "
        f"{_s([o.wall for o in on])} |",
        f"| collections on, nothing changed | {_s([a.plex_requests for a in again], '{:.0f}')} | "
        f"{_s([a.collection_requests for a in again], '{:.0f}')} | {_s([a.collections for a in again], '{:.0f}')} | "
        f"{_s([a.wall for a in again])} |",
        "",
        f"- Collection work for the whole library: {_s(extra, '{:.0f}')} extra Plex requests "
        f"(membership itself rides in each item's one PUT; the extra requests are one collection listing per "
        f"flush, each new collection's summary edit, poster upload and custom-sort pref, and the group "
        f"children reads and moves); wall time x{_s(ratio, '{:.2f}')} of the run without collections.",
        "- Nothing changed: the second Sync all queues nothing, so no collection request is made either.",
    ]
    return "\n".join(lines)


def run(quick: bool = False) -> str:
    sizes = dict(scenes=60, plex_items=600, latency_ms=2.0) if quick else dict(scenes=2000, plex_items=20000,
                                                                                  latency_ms=2.0)
    return section(measure(runs=1 if quick else 3, **sizes), **sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="collection work of a Sync all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--plex-items", type=int, default=20000)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    opts = parser.parse_args(argv)
    results = measure(runs=opts.runs, scenes=opts.scenes, plex_items=opts.plex_items, latency_ms=opts.latency_ms)
    publish("collections", section(results, opts.scenes, opts.plex_items, opts.latency_ms), write=not opts.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
