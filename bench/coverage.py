"""Time the "Coverage report" task for 50,000 scenes, each synced to its own Plex item.

A sandbox with 50,000 Stash scenes and 50,000 Plex items; every scene gets the sync state the worker
would have written (ratingKey of its item, the worker's state hash of the scene as Stash returns it), so
every scene is "synced" and every Plex item is read back for the drift check. The task runs as Stash
runs it (a plugin process started by the sandbox host); wall time is from the task's start until Stash's
job queue is idle.

    python -m bench.coverage [--scenes 50000] [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from typing import Any

from bench.common import Stats, machine, publish

COMMAND = "python -m bench.coverage"


def _mark_all_synced(sb: Any) -> int:
    """The sync state a full sync would leave: one row per scene with its item and the worker's hash."""
    from queue.database import connect, transaction
    from queue.operations import save_record
    from validation.config import load_settings
    from validation.metadata import desired_plex_fields, scene_state_hash
    from worker.reconcile import SCENE_LIST_QUERY
    from worker.stash_reader import SCENE_FRAGMENT

    settings = load_settings(sb.stash.plugin_config("PlexSync")).settings
    query = SCENE_LIST_QUERY % " ".join(SCENE_FRAGMENT.split())
    conn = connect(sb.info["data_dir"])
    marked, page = 0, 1
    try:
        while True:
            data = sb.stash.gql(query, {"f": {"page": page, "per_page": 5000, "sort": "created_at"}, "sf": {}})
            scenes = data["data"]["findScenes"]["scenes"]
            with transaction(conn):
                for scene in scenes:
                    keys = sb.world.scene_rating_keys.get(int(scene["id"])) or []
                    if not keys:
                        continue
                    state = scene_state_hash(scene, desired_plex_fields(scene, settings), None)
                    save_record(conn, int(scene["id"]), time.time(), stash_updated_at=scene.get("updated_at"),
                                rating_key=keys[0], section_id=None, content_hash=state)
                    marked += 1
            if len(scenes) < 5000:
                return marked
            page += 1
    finally:
        conn.close()


def measure(scenes: int, runs: int) -> dict[str, Any]:
    from sandbox import Sandbox

    walls: list[float] = []
    with Sandbox(os.path.join(tempfile.mkdtemp(prefix="bench-coverage-"), "sb"), scenes=scenes,
                 plex_items=scenes) as sb:
        marked = _mark_all_synced(sb)
        line, requests = "", 0
        for _ in range(runs):
            before = len(sb.plex.requests)
            started = time.monotonic()
            job_id = sb.host.run_task("PlexSync", "Coverage report")
            assert sb.host.wait_idle(900), "Coverage report did not finish"
            walls.append(time.monotonic() - started)
            job = sb.host.find_job(job_id)
            assert job["status"] == "FINISHED" and not job.get("error"), job
            requests = len(sb.plex.requests) - before
            lines = [t for _lvl, t in sb.host.log_snapshot() if "Coverage report:" in t]
            line = lines[-1].split("Coverage report:", 1)[1].strip()
        folder = os.path.join(sb.info["data_dir"], "coverage")
        sizes = {name: os.path.getsize(os.path.join(folder, name)) for name in ("coverage.json", "index.html")}
    return {"scenes": scenes, "marked": marked, "walls": walls, "line": line, "requests": requests,
            "sizes": sizes}


def section(result: dict[str, Any]) -> str:
    stats = Stats.of(result["walls"])
    per_1000 = stats.median / result["scenes"] * 1000
    task_s = re.search(r" in ([\d.]+) s$", result["line"])
    return "\n".join([
        f"## Coverage report ({result['scenes']:,} scenes)",
        "",
        f"Reproduce: `{COMMAND}` (or `python -m bench` for everything)  ",
        f"Machine: {machine()}  ",
        f"Sandbox: {result['scenes']:,} Stash scenes and as many Plex items; {result['marked']:,} scenes carry the "
        f"sync state a full sync leaves, so each is read back from Plex for the drift check. "
        f"{len(result['walls'])} runs of the task, started as Stash starts it; wall time from the task's start "
        f"until Stash's job queue is idle (includes Python start and the task's imports).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| wall time | median {stats.median:.1f} s (IQR {stats.q1:.1f}-{stats.q3:.1f}, "
        f"min-max {stats.minimum:.1f}-{stats.maximum:.1f}) |",
        f"| per 1,000 scenes (median) | {per_1000 * 1000:.0f} ms |",
        f"| time the task logged (last run) | {task_s.group(1) if task_s else '?'} s |",
        f"| Plex requests per run | {result['requests']} (batches of 100 ratingKeys plus the connection's GET /) |",
        f"| coverage.json / index.html | {result['sizes']['coverage.json'] / 1e6:.1f} MB / "
        f"{result['sizes']['index.html'] / 1e3:.1f} kB |",
        "",
        f"Last summary line: `{result['line'][:400]}`",
        "",
        "The seeded Plex items keep their own titles and tags, so most rows show drift; the comparison runs "
        "for every synced scene either way. In the browser only the rows in view are drawn "
        "(tests/worker/test_coverage.py loads a 50,000-row page and counts them).",
    ])


def run(quick: bool = False) -> str:
    return section(measure(2000 if quick else 50_000, 2 if quick else 5))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    opts = parser.parse_args(argv)
    publish("coverage", section(measure(opts.scenes, opts.runs)), write=not opts.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
