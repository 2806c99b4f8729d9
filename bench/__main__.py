"""`python -m bench`: run every benchmark once and write BENCHMARKS.md.

    python -m bench [--quick] [--only hook_latency,memory] [--out BENCHMARKS.md] [--before DIR]

--before DIR: a checkout of older code (e.g. `git worktree add /tmp/before <commit>`); benchmarks that
support it measure that code too, in the same run, and publish before, after and the ratio.

Sections are replaced one by one (bench/common.write_section), so a section another benchmark wrote and
any text outside the section markers stay as they are. bench/bulk_sync.py (bulk sync and unchanged
re-sync) is run when it exists: its `run(quick=...)` may return its section's markdown, or write it itself.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import sys
import time
import traceback

from bench.common import BENCHMARKS_MD, write_section

ORDER = ("hook_latency", "bulk_sync", "sync_all_large", "collections", "artwork", "memory", "coverage")


def _call(module, quick: bool, before: str | None = None):
    func = getattr(module, "run", None) or getattr(module, "main")
    params = inspect.signature(func).parameters
    if "quick" in params:
        return func(quick=quick, **({"before": before} if before and "before" in params else {}))
    if func.__name__ == "main" and params:
        return func(["--quick"] if quick else [])
    return func()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the scripts work, figures mean nothing")
    parser.add_argument("--only", default="", help="comma-separated subset of " + ", ".join(ORDER))
    parser.add_argument("--out", default=BENCHMARKS_MD, help="file to write (default BENCHMARKS.md)")
    parser.add_argument("--before", default=None, help="checkout of older code to compare with, same run")
    opts = parser.parse_args(argv)
    names = [n for n in ORDER if not opts.only or n in opts.only.split(",")]
    failed = []
    for name in names:
        if importlib.util.find_spec(f"bench.{name}") is None:
            print(f"[bench] {name}: bench/{name}.py not present, skipped", flush=True)
            continue
        print(f"[bench] {name} ...", flush=True)
        started = time.monotonic()
        try:
            result = _call(importlib.import_module(f"bench.{name}"), opts.quick, opts.before)
        except Exception:  # noqa: BLE001 - one broken benchmark must not lose the others' figures
            traceback.print_exc()
            failed.append(name)
            continue
        if isinstance(result, str) and result.strip():
            write_section(name, result, path=opts.out, order=ORDER)
            print(result, flush=True)
        print(f"[bench] {name} done in {time.monotonic() - started:.0f} s", flush=True)
    print(f"[bench] wrote {opts.out}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
