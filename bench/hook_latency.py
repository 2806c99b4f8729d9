"""Hook latency: the wall time of one PlexSync hook process, which the user waits for on every Save.

Each process is started as Stash starts it (`python <plugin>/PlexSync.py`, one JSON object on stdin,
PYTHONPATH = the plugins folder, Stash's folder as cwd) against a running sandbox Stash, and timed from
spawn to exit. Kinds, interleaved round by round so drift hits all of them alike:
- bare: `python -c pass`, the interpreter's own start-up, measured in the same run;
- filtered: an update whose inputFields hold only `gallery_ids` (linking a gallery: a field PlexSync never
  needs; `organized` is not one any more, since a scope gate or the Organized collection may use it);
- recorded: an update of a synced field for a scene not pending yet, while a drain holds the lease
  (the usual path during an edit session: the hook records the scene and sees the drain running);
- recorded, drain queued: the same while Stash's job queue is busy (as during a scan), so the hook
  checks its remembered drain job with findJob instead (measured in a second phase).
Nothing drains during the measurement (the lease is held by this process / the job queue is occupied),
so the hook's own work is all that is timed. Each run records wall time and the CPU time (user + system)
the process used, read with wait4: on a machine shared with other work the CPU time barely moves while
the wall time does, so both are published.
- bulk edit: one bulkSceneUpdate of 100 scenes through the sandbox Stash, which runs one hook process per
  scene in series before the mutation returns, as Stash does; timed from the request to the answer (the
  drain the first hook requests runs meanwhile, competing for the CPU as it would in Stash).
With `--before DIR` (a checkout of older code, e.g. `git worktree add /tmp/before <commit>`), every kind is
measured for that code too, in the same run, interleaved round by round, and the ratio is published.
Budgets (DESIGN.md): median <= 3x a bare interpreter for a recorded update, <= 2x for a filtered one;
a bulk edit of 100 scenes returns within 3 s.

    python -m bench.hook_latency [--runs 30] [--before DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from bench.common import Stats, machine, publish

RECORDED_BUDGET_X = 3.0   # median of a recorded update / median of a bare interpreter
FILTERED_BUDGET_X = 2.0
BULK_BUDGET_S = 3.0       # bulk edit of BULK_SCENES scenes
BULK_SCENES = 100
COMMAND = "python -m bench.hook_latency"


class HookRunner:
    """Spawns hook processes against a sandbox exactly as its plugin host (and Stash) would."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.plugin = sb.host.plugins["PlexSync"]
        hook = self.plugin.hooks_for("Scene.Update.Post")[0]
        self.argv, self.env = sb.host.build_command(self.plugin, hook.exec_args)
        self.default_args = dict(hook.default_args)
        self.cwd = sb.host.stash_dir   # Stash's cwd, not the plugin folder

    def payload(self, scene_id: int, fields: dict[str, Any]) -> bytes:
        args = dict(self.default_args)
        args["hookContext"] = {"id": scene_id, "type": "Scene.Update.Post",
                               "input": {"id": str(scene_id), **fields}, "inputFields": ["id", *fields]}
        visited = [("PlexSync", "Scene.Update.Post")]   # what Stash's cookie carries inside a hook
        return json.dumps(self.sb.host.build_input(self.plugin, args, visited)).encode("utf-8")

    def _spawn(self, argv: list[str], payload: bytes) -> tuple[float, float, int, bytes, bytes]:
        """(wall s, cpu s, exit code, stdout, stderr) of one process; CPU time from wait4's rusage."""
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env, cwd=self.cwd)
        proc.stdin.write(payload)
        proc.stdin.close()
        out = proc.stdout.read()   # a hook writes a few hundred bytes: no pipe can fill up
        err = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        proc.stderr.close()
        return elapsed, usage.ru_utime + usage.ru_stime, proc.returncode, out, err

    def time_hook(self, payload: bytes) -> tuple[float, float, dict]:
        elapsed, cpu, code, out, err = self._spawn(self.argv, payload)
        result = json.loads(out or b"{}")
        if code != 0 or result.get("error"):
            raise RuntimeError(f"hook failed: rc={code} {result} {err[-500:]!r}")
        return elapsed, cpu, result

    def time_bare(self) -> tuple[float, float]:
        elapsed, cpu, code, _out, err = self._spawn([self.argv[0], "-c", "pass"], b"")
        if code != 0:
            raise RuntimeError(f"bare python failed: {err[-300:]!r}")
        return elapsed, cpu


def _expect(result: dict, *texts: str) -> None:
    """The hook answered as expected (any of `texts`), so we timed the path we meant to time."""
    if not any(text in str(result.get("output")) for text in texts):
        raise RuntimeError(f"unexpected hook result {result!r} (wanted one of {texts!r})")


KINDS = ("filtered", "recorded", "recorded_queued")
LABELS = {"bare": "bare `python -c pass`", "filtered": "filtered update (inputFields: gallery_ids)",
          "recorded": "recorded update (drain running)",
          "recorded_queued": "recorded update (drain queued behind a scan)"}


class Timings:
    """Wall and CPU seconds per kind, for one version of the code."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def add(self, kind: str, wall: float, cpu: float) -> None:
        self.wall.setdefault(kind, []).append(wall)
        self.cpu.setdefault(kind, []).append(cpu)

    def stats(self) -> dict[str, tuple[Stats, Stats]]:
        return {kind: (Stats.of(self.wall[kind]), Stats.of(self.cpu[kind])) for kind in self.wall}


def measure(runs: int = 30, warmup: int = 3, before: str | None = None,
            bulk_runs: int = 3) -> tuple[dict[str, dict[str, tuple[Stats, Stats]]], int]:
    """{"after": {kind: (wall, cpu)}, "before": {...} when `before` names a checkout}, warm-up rounds."""
    from queue import lease
    from queue.database import connect
    from sandbox import REPO_ROOT, Sandbox

    sources = {"after": REPO_ROOT, **({"before": before} if before else {})}
    # As in a Stash install, Python caches the plugin's bytecode next to its source: a development
    # shell's PYTHONDONTWRITEBYTECODE=1 would make every hook compile every module it imports.
    saved_flag = os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    timings = {name: Timings() for name in sources}
    with tempfile.TemporaryDirectory(prefix="plexsync-bench-hook-") as root:
        sandboxes = {name: Sandbox(os.path.join(root, name), scenes=2 * (runs + warmup) + 4, plex_items=10,
                                   plugin_src=src) for name, src in sources.items()}
        conns: dict[str, Any] = {}
        try:
            for sb in sandboxes.values():
                sb.__enter__()
            runners = {name: HookRunner(sb) for name, sb in sandboxes.items()}
            scene_ids = {name: iter(range(1, 2 * (runs + warmup) + 1)) for name in sources}  # fresh scenes
            owner = lease.new_owner()
            # Phase 1: a drain "runs" (this process holds its lease), as during an edit session.
            for name, sb in sandboxes.items():
                conns[name] = connect(sb.info["data_dir"])
                lease.acquire(conns[name], owner, ttl=60)
            for i in range(warmup + runs):
                wall, cpu = runners["after"].time_bare()
                if i >= warmup:
                    for t in timings.values():
                        t.add("bare", wall, cpu)
                for name, runner in runners.items():
                    lease.renew(conns[name], owner, ttl=60)
                    f_wall, f_cpu, res_f = runner.time_hook(runner.payload(1, {"gallery_ids": ["1"]}))
                    r_wall, r_cpu, res_r = runner.time_hook(runner.payload(next(scene_ids[name]),
                                                                           {"title": f"Bench {i}"}))
                    _expect(res_f, "update filtered: nothing to sync", "0 scene(s) recorded")
                    _expect(res_r, "1 scene(s) recorded; drain running")
                    if i >= warmup:
                        timings[name].add("filtered", f_wall, f_cpu)
                        timings[name].add("recorded", r_wall, r_cpu)
            for name in sandboxes:
                lease.release(conns[name], owner)

            # Phase 2: no drain running; Stash's job queue is busy (a scan), the requested drain waits in
            # it, and each hook must know that (from the database, or by asking Stash with findJob).
            release = threading.Event()
            for sb in sandboxes.values():
                sb.host._jobs.add("Scanning...", lambda _ctx: release.wait(600))  # noqa: SLF001 - as tests do
            try:
                for i in range(warmup + runs):
                    for name, runner in runners.items():
                        wall, cpu, result = runner.time_hook(runner.payload(next(scene_ids[name]),
                                                                            {"details": f"b{i}"}))
                        _expect(result, "1 scene(s) recorded; drain re")   # requested / requested-recently
                        if i >= warmup:
                            timings[name].add("recorded_queued", wall, cpu)
            finally:
                release.set()
            for sb in sandboxes.values():
                sb.host.wait_idle(120)
        finally:
            for conn in conns.values():
                conn.close()
            for sb in sandboxes.values():
                sb.host.close(timeout=5)
                sb.__exit__(None, None, None)
        for name, src in sources.items() if bulk_runs > 0 else ():
            for wall in bulk_edit(os.path.join(root, f"bulk-{name}"), src, bulk_runs):
                timings[name].add("bulk", wall, 0.0)
    if saved_flag is not None:
        os.environ["PYTHONDONTWRITEBYTECODE"] = saved_flag
    return {name: t.stats() for name, t in timings.items()}, warmup


def bulk_edit(root: str, plugin_src: str, runs: int) -> list[float]:
    """Seconds from sending one bulkSceneUpdate of BULK_SCENES scenes to its answer, `runs` times (each
    after the drain of the previous one finished)."""
    from sandbox import Sandbox

    walls = []
    with Sandbox(root, scenes=BULK_SCENES, plex_items=BULK_SCENES + 20, plugin_src=plugin_src) as sb:
        ids = [str(i) for i in range(1, BULK_SCENES + 1)]
        for i in range(runs + 1):   # the first is a warm-up: it compiles the plugin's bytecode
            started = time.perf_counter()
            result = sb.stash.gql("mutation($ids: [ID!], $d: String) { bulkSceneUpdate(input: {ids: $ids, "
                                  "director: $d}) { id } }", {"ids": ids, "d": f"Bulk {i}"}, timeout=600)
            elapsed = time.perf_counter() - started
            if len(result["data"]["bulkSceneUpdate"]) != BULK_SCENES:
                raise RuntimeError(f"bulk edit failed: {str(result)[:300]}")
            if not sb.host.wait_idle(300):
                raise RuntimeError("the drain after the bulk edit did not finish")
            if i:
                walls.append(elapsed)
        sb.host.close(timeout=5)
    return walls


def _ms(s: Stats) -> str:
    return f"{s.median * 1000:.1f} ms ({s.q1 * 1000:.1f}-{s.q3 * 1000:.1f})"


def section(results: dict[str, dict[str, tuple[Stats, Stats]]], warmup: int) -> str:
    after = results["after"]
    before = results.get("before")
    bare_wall, bare_cpu = after["bare"]
    runs = bare_wall.runs
    lines = [
        "## Hook latency (one `Scene.Update.Post` hook process, wall time)",
        "",
        f"Reproduce: `{COMMAND}{' --before <checkout of the older commit>' if before else ''}` (or `python -m "
        f"bench` for everything)  ",
        f"Machine: {machine()}  ",
        f"Runs: {runs} per kind after {warmup} warm-up rounds; each process started as Stash starts it "
        f"(`python <plugin>/PlexSync.py`, JSON on stdin, PYTHONPATH = plugins folder, foreign cwd) against a "
        f"running sandbox Stash, with bytecode caching on as in a Stash install (PYTHONDONTWRITEBYTECODE removed "
        f"from the environment; warm-up rounds write the cache). Figures are median (IQR); \"CPU\" is the user + system time of the process "
        f"(from wait4), which other work on the machine disturbs far less than the wall time."
        + (" \"before\" is the older code (`--before`), measured in the same run, interleaved round by "
           "round." if before else ""),
        "",
    ]
    if before:
        lines += ["| kind | before: wall | after: wall | after / before | after vs bare python (wall) | "
                  "before vs bare python (wall) | CPU before | CPU after |",
                  "|---|---|---|---|---|---|---|---|"]
    else:
        lines += ["| kind | wall | vs bare python (wall) | CPU | vs bare python (CPU) |", "|---|---|---|---|---|"]
    for kind in ("bare",) + KINDS:
        wall, cpu = after[kind]
        if before:
            b_wall, b_cpu = before[kind]
            lines.append(f"| {LABELS[kind]} | {_ms(b_wall)} | {_ms(wall)} | {wall.median / b_wall.median:.2f}x | "
                         f"{wall.median / bare_wall.median:.2f}x | {b_wall.median / bare_wall.median:.2f}x | "
                         f"{_ms(b_cpu)} | {_ms(cpu)} |")
        else:
            lines.append(f"| {LABELS[kind]} | {_ms(wall)} | {wall.median / bare_wall.median:.2f}x | {_ms(cpu)} | "
                         f"{cpu.median / bare_cpu.median:.2f}x |")
    bulk = after.get("bulk")
    verdicts = []
    for kind, limit in (("recorded", RECORDED_BUDGET_X), ("recorded_queued", RECORDED_BUDGET_X),
                        ("filtered", FILTERED_BUDGET_X)):
        ratio = after[kind][0].median / bare_wall.median
        verdicts.append(f"{LABELS[kind]} {ratio:.2f}x (budget {limit:g}x: {'within' if ratio <= limit else 'OVER'})")
    cpu_verdicts = []
    for kind, limit in (("recorded", RECORDED_BUDGET_X), ("recorded_queued", RECORDED_BUDGET_X),
                        ("filtered", FILTERED_BUDGET_X)):
        ratio = after[kind][1].median / bare_cpu.median
        cpu_verdicts.append(f"{LABELS[kind]} {ratio:.2f}x ({'within' if ratio <= limit else 'OVER'})")
    lines += ["", "Budgets (DESIGN.md), medians against the bare interpreter's, wall time: " + "; ".join(verdicts) + ".",
              "", "The same ratios on CPU time (what the hook itself costs, whatever else the machine runs): "
              + "; ".join(cpu_verdicts) + "."]
    if bulk:
        b = bulk[0]
        text = (f"Bulk edit of {BULK_SCENES} scenes (one bulkSceneUpdate; the sandbox Stash runs one hook process "
                f"per scene, in series, before it answers; {b.runs} runs after a warm-up): the Save returns after "
                f"{b.median:.2f} s median (min-max {b.minimum:.2f}-{b.maximum:.2f})")
        if before and before.get("bulk"):
            bb = before["bulk"][0]
            text += (f", against {bb.median:.2f} s ({bb.minimum:.2f}-{bb.maximum:.2f}) before: "
                     f"{b.median / bb.median:.2f}x")
        text += f"; budget {BULK_BUDGET_S:g} s: {'within' if b.median <= BULK_BUDGET_S else 'OVER'}."
        lines += ["", text]
    lines += ["", "What the hook adds over a bare interpreter: its imports (standard library only, and of that "
                  "only what a Save needs: no typing, dataclasses, HTTP client or settings parser on the usual "
                  "path), one SQLite read of the settings the previous hook cached (hooks/settings_cache.py, "
                  "3 s life) and one SQLite transaction. Stash is asked for the settings at most once per 3 s, "
                  "and about a queued drain at most once per 5 s (queue/drain_request.py)."]
    return "\n".join(lines)


def run(quick: bool = False, before: str | None = None) -> str:
    return section(*measure(runs=5 if quick else 30, warmup=1 if quick else 3, before=before,
                            bulk_runs=1 if quick else 3))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="hook process wall time vs a bare interpreter")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--bulk-runs", type=int, default=3)
    parser.add_argument("--before", default=None, help="checkout of older code to measure in the same run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    opts = parser.parse_args(argv)
    text = section(*measure(runs=opts.runs, before=opts.before, bulk_runs=opts.bulk_runs))
    publish("hook_latency", text, write=not opts.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
