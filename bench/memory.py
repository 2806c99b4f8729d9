"""Peak memory of the "Process queue" task with a 100,000-item Plex library (budget: 150 MB peak RSS).

A separate process serves the simulated Plex (100,000 items) and Stash (1,000 scenes, each with its file
in Plex): `python -m sandbox up --no-plugin`. This script installs the plugin into that sandbox's plugins
folder, records the 1,000 scenes in the pending set (as 1,000 hooks would), and starts the Process queue
task process itself, as Stash starts it. That process builds the Plex path index from the paged section
listings and syncs every scene. Its peak RSS is the kernel's high-water mark of that process (VmHWM in
/proc, polled every 50 ms, which also shows when the peak happened).

A second measurement does the same for the bulk benchmark's library (20,000 items, 2,000 scenes;
budget 60 MB). With `--before DIR` both are made for that older checkout too, in the same run.

    python -m bench.memory [--plex-items 100000] [--scenes 1000] [--before DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass

from bench.common import REPO_ROOT, machine, publish

BUDGET_MB = 150.0
BULK_BUDGET_MB = 60.0   # the bulk benchmark's library: 20,000 items, 2,000 scenes
COMMAND = "python -m bench.memory"


@dataclass
class MemoryResult:
    plex_items: int
    scenes: int
    peak_rss_mb: float
    peak_at_s: float | None
    wall_s: float
    synced: str
    plex_requests: int
    plex_by_path: dict[str, int]


def _start_sandbox(root: str, scenes: int, plex_items: int) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "up", "--dir", root, "--scenes", str(scenes),
                             "--plex-items", str(plex_items), "--no-plugin", "--quiet"],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 600
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY "):
            return proc, json.loads(line[len("READY "):])
        if not line and proc.poll() is not None:
            break
    _stop(proc)
    raise RuntimeError("the sandbox did not become ready")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _gql(url: str, query: str, variables: dict) -> dict:
    req = urllib.request.Request(url + "/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _plex_requests(plex_url: str) -> dict:
    with urllib.request.urlopen(plex_url + "/sandbox/requests", timeout=60) as resp:
        return json.loads(resp.read())


def _poll_rss(pid: int, samples: list[tuple[float, int, int]], stop: threading.Event) -> None:
    """(seconds, VmRSS KiB, VmHWM KiB) every 50 ms. VmHWM is the high-water mark of the task's own address
    space since exec; wait4's ru_maxrss is not used because Linux carries the parent's high-water mark
    into a forked child, so under `python -m bench` (a parent that just held the 20,000-item bulk-sync
    sandbox) it read 85.6 MB for a task whose own peak was 48 MB."""
    started = time.monotonic()
    while not stop.wait(0.05):
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                fields = dict(line.split(":", 1) for line in fh if line.startswith(("VmRSS:", "VmHWM:")))
            samples.append((time.monotonic() - started, int(fields["VmRSS"].split()[0]),
                            int(fields["VmHWM"].split()[0])))
        except (OSError, KeyError, ValueError):
            return


def measure(plex_items: int = 100_000, scenes: int = 1_000, plugin_src: str = REPO_ROOT) -> MemoryResult:
    from queue import pending
    from queue.database import connect
    from sandbox.install import install_plugin

    with tempfile.TemporaryDirectory(prefix="plexsync-bench-mem-") as root:
        sandbox_proc, info = _start_sandbox(root, scenes, plex_items)
        try:
            plugin_dir = install_plugin(plugin_src, info["plugins_dir"])
            # One run does the whole job: a slice long enough that it never re-queues itself.
            _gql(info["stash_url"], "mutation($i: Map!) { configurePlugin(plugin_id: \"PlexSync\", input: $i) }",
                 {"i": {"plex_url": info["plex_url"], "plex_token": info["plex_token"],
                        "path_map": info["path_map"], "drain_slice_seconds": 3600}})
            conn = connect(os.path.join(plugin_dir, "data"))
            try:
                pending.record_many(conn, list(range(1, scenes + 1)), "bench")
            finally:
                conn.close()
            urllib.request.urlopen(urllib.request.Request(info["plex_url"] + "/sandbox/reset", method="POST"),
                                   timeout=60).close()

            stdin = json.dumps({"server_connection": {
                "Scheme": "http", "Host": "0.0.0.0", "Port": int(info["stash_url"].rsplit(":", 1)[1]),
                "SessionCookie": None, "Dir": info["stash_dir"], "PluginDir": plugin_dir},
                "args": {"mode": "process"}}).encode()
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), info["plugins_dir"]) if p)
            started = time.monotonic()
            task = subprocess.Popen([sys.executable, os.path.join(plugin_dir, "PlexSync.py")],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=info["stash_dir"], env=env)
            samples: list[tuple[float, int, int]] = []
            stop = threading.Event()
            poller = threading.Thread(target=_poll_rss, args=(task.pid, samples, stop), daemon=True)
            poller.start()
            stderr_chunks: list[bytes] = []
            reader = threading.Thread(target=lambda: stderr_chunks.append(task.stderr.read()), daemon=True)
            reader.start()
            task.stdin.write(stdin)
            task.stdin.close()
            stdout = task.stdout.read()
            # wait4 reaps this very process and returns its own rusage (ru_maxrss in KiB on Linux).
            _pid, status, usage = os.wait4(task.pid, 0)
            task.returncode = os.waitstatus_to_exitcode(status)
            wall = time.monotonic() - started
            stop.set()
            reader.join(10)
            result = json.loads(stdout or b"{}")
            if task.returncode != 0 or result.get("error"):
                tail = b"".join(stderr_chunks)[-2000:].decode("utf-8", "replace")
                raise RuntimeError(f"Process queue failed: {result} {tail}")
            requests = _plex_requests(info["plex_url"])
        finally:
            _stop(sandbox_proc)
    if not samples:
        raise RuntimeError("could not read the task's memory from /proc")
    peak_at = max(samples, key=lambda s: s[1])[0]
    del usage  # see _poll_rss: ru_maxrss includes the parent's high-water mark
    return MemoryResult(plex_items=plex_items, scenes=scenes, peak_rss_mb=max(s[2] for s in samples) / 1024,
                        peak_at_s=peak_at, wall_s=wall, synced=str(result.get("output")),
                        plex_requests=int(requests.get("total", 0)),
                        plex_by_path=dict(requests.get("by_path") or {}))


def section(r: MemoryResult) -> str:
    verdict = "within" if r.peak_rss_mb <= BUDGET_MB else "OVER"
    top = sorted(r.plex_by_path.items(), key=lambda kv: -kv[1])[:4]
    by_path = ", ".join(f"`{path}` {n:,}" for path, n in top)
    peak_at = f", reached {r.peak_at_s:.1f} s into the run" if r.peak_at_s is not None else ""
    return "\n".join([
        f"## Peak memory: Process queue with a {r.plex_items:,}-item Plex library",
        "",
        f"Reproduce: `{COMMAND}` (or `python -m bench` for everything)  ",
        f"Machine: {machine()}  ",
        f"Runs: 1 (peak RSS is a maximum, not a distribution); simulated Plex and Stash in a separate process "
        f"(`python -m sandbox up --plex-items {r.plex_items} --scenes {r.scenes} --no-plugin`); "
        f"{r.scenes:,} scenes pending; one Process queue task process started as Stash starts it.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| peak RSS of the task process (/proc VmHWM, polled every 50 ms) | **{r.peak_rss_mb:.1f} MB**{peak_at} |",
        f"| budget | {BUDGET_MB:.0f} MB: {verdict} |",
        f"| wall time (index build + {r.scenes:,}-scene sync) | {r.wall_s:.1f} s |",
        f"| Plex requests | {r.plex_requests:,} (most frequent: {by_path}) |",
        f"| task result | {r.synced} |",
    ])


def comparison(rows: list[tuple[int, int, float, MemoryResult, MemoryResult | None]]) -> str:
    lines = ["", "### Before and after, and the bulk benchmark's library", "",
             "Same method, one task process each; \"before\" is the older checkout given with `--before`.", "",
             "| library | scenes | peak RSS before | peak RSS after | after / before | budget | wall before | "
             "wall after |", "|---|---|---|---|---|---|---|---|"]
    for items, scenes, budget, after, before in rows:
        b_rss = f"{before.peak_rss_mb:.1f} MB" if before else "-"
        ratio = f"{after.peak_rss_mb / before.peak_rss_mb:.2f}x" if before else "-"
        verdict = "within" if after.peak_rss_mb <= budget else "OVER"
        lines.append(f"| {items:,} items | {scenes:,} | {b_rss} | **{after.peak_rss_mb:.1f} MB** | {ratio} | "
                     f"{budget:.0f} MB: {verdict} | {before.wall_s if before else 0:.1f} s | {after.wall_s:.1f} s |")
    return "\n".join(lines)


def run(quick: bool = False, before: str | None = None) -> str:
    big = (2_000, 20) if quick else (100_000, 1_000)
    bulk = (600, 60) if quick else (20_000, 2_000)
    after_big = measure(*big)
    rows = [(big[0], big[1], BUDGET_MB, after_big, measure(*big, plugin_src=before) if before else None),
            (bulk[0], bulk[1], BULK_BUDGET_MB, measure(*bulk), measure(*bulk, plugin_src=before) if before else None)]
    return section(after_big) + "\n" + comparison(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="peak RSS of Process queue, 100k-item Plex")
    parser.add_argument("--plex-items", type=int, default=100_000)
    parser.add_argument("--scenes", type=int, default=1_000)
    parser.add_argument("--before", default=None, help="checkout of older code to compare with, same run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    opts = parser.parse_args(argv)
    text = run(before=opts.before) if opts.before else section(measure(opts.plex_items, opts.scenes))
    publish("memory", text, write=not opts.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
