"""Bulk sync: "Sync all" + the drain it starts over a whole library, then the same again unchanged.

Sandbox: 20,000 Plex items, 2,000 Stash scenes, 2 ms added latency on every Plex request. Each run starts
a fresh seeded sandbox, presses "Sync all" as Stash would (plugin processes started by the sandbox host),
and waits until Stash's job queue is idle: the Sync all task, then every "Process queue" run it caused
(a drain that uses up its time slice re-queues itself; the host runs that run too, so it is counted).
Then "Sync all" again with nothing changed. Figures per phase: Plex requests (all of them, including the
path-index pages) per synced scene, wall time from the press to an idle queue, scenes per second.

With `--before DIR` (a checkout of older code), every run is made for that code too, alternating run by
run on identically seeded sandboxes, and a second, smaller comparison runs at 20 ms Plex latency (where
the number of requests in flight matters most); before, after and the ratio are published.

    python -m bench.bulk_sync [--runs 3] [--scenes 2000] [--plex-items 20000] [--latency-ms 2] [--before DIR]
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common import Stats, machine, publish

COMMAND = "python -m bench.bulk_sync"
WAIT = 900.0  # bound on one phase; a phase that does not finish fails the benchmark


@dataclass
class Phase:
    wall: float
    plex_requests: int
    queued: int
    synced: int
    unchanged: int
    low: int
    drains: int
    index_pages: int
    task_seconds: float
    item_requests: int        # requests about one item (re-read, edit, poster), not setup or index pages
    posters: int = 0          # poster uploads (one per changed image)
    by_method: dict[str, int] = field(default_factory=dict)


def _plugin_lines(sb: Any, start: int) -> list[str]:
    return [text for _lvl, text in sb.host.log_snapshot()[start:] if "[Plugin / PlexSync]" in text]


def _sum(pattern: str, lines: list[str]) -> int:
    return sum(int(m.group(1)) for line in lines for m in [re.search(pattern, line)] if m)


def _phase(sb: Any) -> Phase:
    sb.plex.reset_requests()
    start = len(sb.host.log_snapshot())
    started = time.monotonic()
    sb.host.run_task("PlexSync", "Sync all", {})
    if not sb.host.wait_idle(WAIT):
        raise RuntimeError(f"Sync all + drain did not finish within {WAIT:.0f} s")
    wall = time.monotonic() - started
    lines = _plugin_lines(sb, start)
    sync_line = next((line for line in lines if "Sync all:" in line), "")
    if not sync_line:
        raise RuntimeError("Sync all logged no summary: " + " | ".join(lines[-5:]))
    drains = [line for line in lines if "Process queue:" in line]
    requests = list(sb.plex.requests)
    by_method: dict[str, int] = {}
    for r in requests:
        by_method[r["method"]] = by_method.get(r["method"], 0) + 1
    task_time = re.search(r"in ([\d.]+) s", sync_line)
    return Phase(
        wall=wall, plex_requests=len(requests),
        queued=_sum(r"(\d+) queued", [sync_line]),
        synced=_sum(r"(\d+) synced", drains), unchanged=_sum(r"(\d+) unchanged,", drains),
        low=_sum(r"(\d+) low confidence", drains), drains=len(drains),
        index_pages=sum(1 for r in requests if r["method"] == "GET" and r["path"].endswith("/all")),
        task_seconds=float(task_time.group(1)) if task_time else 0.0,
        item_requests=sum(1 for r in requests if r["path"].startswith("/library/metadata/")
                          or (r["method"] == "PUT" and "id" in r["query"])),
        posters=sum(1 for r in requests if r["method"] == "POST" and r["path"].endswith("/posters")),
        by_method=by_method)


def measure(runs: int = 3, scenes: int = 2000, plex_items: int = 20000,
            latency_ms: float = 2.0, plugin_src: str | None = None) -> list[tuple[Phase, Phase]]:
    return [_measure_seed(i, scenes, plex_items, latency_ms, plugin_src, "this code") for i in range(runs)]


def _s(values: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min-max)', or the single value when every run gave the same."""
    st = Stats.of(values)
    low, mid, high = fmt.format(st.minimum), fmt.format(st.median), fmt.format(st.maximum)
    return mid if low == high else f"{mid} ({low}-{high})"


def section(results: list[tuple[Phase, Phase]], scenes: int, plex_items: int, latency_ms: float) -> str:
    firsts = [f for f, _ in results]
    seconds = [s for _, s in results]
    per_scene = [f.plex_requests / f.synced if f.synced else 0.0 for f in firsts]
    per_scene_items = [f.item_requests / f.synced if f.synced else 0.0 for f in firsts]
    lines = [
        "## Bulk sync",
        "",
        f"Sandbox: {plex_items:,} Plex items (2 movie sections), {scenes:,} Stash scenes, {latency_ms:g} ms added "
        f"latency per Plex request; {len(results)} runs, each on a fresh seeded sandbox; figures are "
        "median (min-max). Wall time runs from pressing \"Sync all\" until Stash's job queue is idle (the "
        "Sync all task plus every Process queue run it caused, including self re-queues after a time slice "
        "and the drain's 1 s linger). Plex requests are all requests Plex received, path-index pages included.  ",
        f"Reproduce: `{COMMAND} --runs {len(results)}` (or `python -m bench` for everything)  ",
        f"Machine: {machine()}",
        "",
        "| phase | scenes synced | Plex requests | Plex requests per synced scene | wall time (s) | scenes per second |",
        "|---|---|---|---|---|---|",
        f"| first Sync all + drain | {_s([f.synced for f in firsts], '{:.0f}')} | "
        f"{_s([f.plex_requests for f in firsts], '{:.0f}')} | {_s(per_scene)} | {_s([f.wall for f in firsts], '{:.1f}')} | "
        f"{_s([f.synced / f.wall for f in firsts], '{:.1f}')} |",
        f"| unchanged second Sync all | {_s([s.synced for s in seconds], '{:.0f}')} "
        f"({_s([s.queued for s in seconds], '{:.0f}')} queued) | {_s([s.plex_requests for s in seconds], '{:.0f}')} | "
        f"{'0 (nothing synced)' if all(s.plex_requests == 0 for s in seconds) else 'see requests'} | "
        f"{_s([s.wall for s in seconds], '{:.1f}')} | "
        f"{_s([scenes / s.wall for s in seconds], '{:.0f}')} scenes checked per second |",
        "",
        f"- First run: {_s(per_scene_items)} Plex requests per synced scene for the item itself, "
        f"{_s([(f.plex_requests - f.posters) / f.synced if f.synced else 0.0 for f in firsts])} per synced scene "
        f"in all once the poster uploads are set aside (budget 1.2 plus one per changed image); the rest are "
        f"the path-index pages (GET .../all: {_s([f.index_pages for f in firsts], '{:.0f}')} per run) and GET /, "
        f"/library, /library/sections once per drain. Per item: one PUT (the batched, locked edit) and one POST "
        f"(the poster upload, needed on the first sync of a scene with a cover); the items themselves are read "
        f"ahead up to 50 at a time in one `GET /library/metadata/k1,k2,...` (worker/read_ahead.py), and the scenes "
        f"in one findScenes per batch on the Stash side; up to 6 scenes are in flight at once (parallel_edits, by default). "
        f"Requests by method (run 1): {', '.join(f'{k} {v}' for k, v in sorted(firsts[0].by_method.items()))}; "
        f"LOW-confidence scenes left for review: {_s([f.low for f in firsts], '{:.0f}')}; Process queue runs: "
        f"{_s([f.drains for f in firsts], '{:.0f}')}"
        f"{' (the default 120 s work slice was never used up)' if all(f.drains == 1 for f in firsts) else ''}.",
        f"- Unchanged run: the Sync all task itself (list every scene in pages of 500, compare with the sync "
        f"state and the worker's state hash) took {_s([s.task_seconds for s in seconds])} s of the wall time; "
        f"it queued nothing, so no Process queue run started and Plex received no request.",
    ]
    return "\n".join(lines)


def compare(runs: int, scenes: int, plex_items: int, latency_ms: float,
            before: str) -> dict[str, list[tuple[Phase, Phase]]]:
    """Runs for the older code and this code, alternating, on the same seeds."""
    results: dict[str, list[tuple[Phase, Phase]]] = {"before": [], "after": []}
    for i in range(runs):
        for name, src in (("before", before), ("after", None)):
            results[name].append(_measure_seed(i, scenes, plex_items, latency_ms, src, name))
    return results


def _measure_seed(i: int, scenes: int, plex_items: int, latency_ms: float, src: str | None,
                  name: str) -> tuple[Phase, Phase]:
    """Sync all + drain, then Sync all unchanged, on a fresh sandbox seeded with 1 + i."""
    from sandbox import REPO_ROOT, Sandbox
    with tempfile.TemporaryDirectory(prefix="plexsync-bulk-") as root:
        with Sandbox(root, scenes=scenes, plex_items=plex_items, latency_ms=latency_ms, seed=1 + i,
                     plugin_src=src or REPO_ROOT) as sb:
            first = _phase(sb)
            second = _phase(sb)
    print(f"[bulk_sync] {name} {latency_ms:g} ms run {i + 1}: first {first.wall:.1f} s, {first.plex_requests} "
          f"Plex requests, {first.synced} synced in {first.drains} drain run(s); unchanged {second.wall:.1f} s, "
          f"{second.plex_requests} Plex requests, {second.queued} queued", flush=True)
    return first, second


def comparison_section(by_latency: dict[float, tuple[dict[str, list[tuple[Phase, Phase]]], int, int]]) -> str:
    lines = ["", "### Before and after (same run, alternating, same seeds)", "",
             "\"before\" is the code of the older checkout given with `--before`; figures are median (min-max) "
             "of the runs. Requests per changed scene count every Plex request except the poster uploads "
             "(one per changed image), index pages and session set-up included.", "",
             "| Plex latency | library | measure | before | after | after / before |", "|---|---|---|---|---|---|"]
    for latency, (res, scenes, items) in by_latency.items():
        def rate(r: list[tuple[Phase, Phase]]) -> list[float]:
            return [f.synced / f.wall for f, _ in r]

        def per_scene(r: list[tuple[Phase, Phase]]) -> list[float]:
            return [(f.plex_requests - f.posters) / f.synced if f.synced else 0.0 for f, _ in r]

        def unchanged(r: list[tuple[Phase, Phase]]) -> list[float]:
            return [s.task_seconds for _, s in r]

        lib = f"{scenes:,} scenes, {items:,} items"
        for label, fn, fmt in (("changed scenes per second (first Sync all + drain)", rate, "{:.1f}"),
                               ("Plex requests per changed scene, posters aside", per_scene, "{:.2f}"),
                               ("unchanged Sync all: task seconds (Stash side)", unchanged, "{:.2f}")):
            b, a = fn(res["before"]), fn(res["after"])
            ratio = Stats.of(a).median / Stats.of(b).median if Stats.of(b).median else float("nan")
            lines.append(f"| {latency:g} ms | {lib} | {label} | {_s(b, fmt)} | {_s(a, fmt)} | {ratio:.2f}x |")
        posters = [f.posters / f.synced if f.synced else 0.0 for f, _ in res["after"]]
        lines.append(f"| {latency:g} ms | {lib} | poster uploads per changed scene (after) | | {_s(posters)} | |")
        unchanged_requests = [s.plex_requests for _, s in res["after"]]
        lines.append(f"| {latency:g} ms | {lib} | Plex requests of the unchanged Sync all (after) | "
                     f"{_s([s.plex_requests for _, s in res['before']], '{:.0f}')} | "
                     f"{_s(unchanged_requests, '{:.0f}')} | |")
    return "\n".join(lines)


def run(quick: bool = False, before: str | None = None, runs: int | None = None, scenes: int = 2000,
        plex_items: int = 20000, latency_ms: float = 2.0) -> str:
    sizes = dict(scenes=60, plex_items=600, latency_ms=2.0) if quick else dict(scenes=scenes, plex_items=plex_items,
                                                                                  latency_ms=latency_ms)
    runs = runs or (1 if quick else 3)
    if not before:
        return section(measure(runs=runs, **sizes), **sizes)
    slow = dict(scenes=60, plex_items=600, latency_ms=20.0) if quick else dict(scenes=400, plex_items=4000,
                                                                                  latency_ms=20.0)
    fast_res = compare(runs, before=before, **sizes)
    slow_res = compare(1 if quick else 2, before=before, **slow)
    text = section(fast_res["after"], **sizes)
    return text + "\n" + comparison_section({sizes["latency_ms"]: (fast_res, sizes["scenes"], sizes["plex_items"]),
                                              slow["latency_ms"]: (slow_res, slow["scenes"], slow["plex_items"])})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Sync all + drain, then again unchanged")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--plex-items", type=int, default=20000)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--before", default=None, help="checkout of older code to compare with, same run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    opts = parser.parse_args(argv)
    if opts.before:
        text = run(before=opts.before, runs=opts.runs, scenes=opts.scenes, plex_items=opts.plex_items,
                   latency_ms=opts.latency_ms)
        publish("bulk_sync", text, write=not opts.no_write)
        return 0
    results = measure(runs=opts.runs, scenes=opts.scenes, plex_items=opts.plex_items, latency_ms=opts.latency_ms)
    text = section(results, opts.scenes, opts.plex_items, opts.latency_ms)
    publish("bulk_sync", text, write=not opts.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
