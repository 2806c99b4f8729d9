"""Shared helpers for the benchmarks: statistics, machine description, BENCHMARKS.md sections."""
from __future__ import annotations

import os
import platform
import re
import statistics
import sys
from dataclasses import dataclass

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS_MD = os.path.join(REPO_ROOT, "BENCHMARKS.md")
TITLE = "# PlexSync benchmarks"
INTRO = ("Written by `python -m bench` (each section can be refreshed alone with the command it shows). "
         "Figures are from one full run on the machine named in each section; budgets are from DESIGN.md.")


@dataclass(frozen=True)
class Stats:
    runs: int
    median: float
    minimum: float
    maximum: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values: list[float]) -> "Stats":
        ordered = sorted(values)
        if len(ordered) >= 2:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1 = q3 = ordered[0]
        return cls(len(ordered), statistics.median(ordered), ordered[0], ordered[-1], q1, q3)

    def ms(self) -> str:
        """'median 41.2 ms (IQR 39.8-43.0, min-max 38.1-55.3)'."""
        return (f"median {self.median * 1000:.1f} ms (IQR {self.q1 * 1000:.1f}-{self.q3 * 1000:.1f}, "
                f"min-max {self.minimum * 1000:.1f}-{self.maximum * 1000:.1f})")


def machine() -> str:
    """What the figures depend on: CPUs, Python, OS."""
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}), "
            f"Python {platform.python_version()} ({sys.implementation.name}), {platform.system()} "
            f"{platform.release()}, {platform.machine()}{_load()}")


def _load() -> str:
    # Other work on the machine skews timings; say how busy it was when the figures were taken.
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return ""
    return f"; load average {one:.2f} / {five:.2f} (1 / 5 min) at the end of the run"


def _marker(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def publish(name: str, text: str, write: bool = True) -> None:
    """Print a benchmark's section and (unless --no-write) put it into BENCHMARKS.md in the usual order."""
    print(text)
    if write:
        from bench.__main__ import ORDER  # noqa: PLC0415 - the order lives with the runner
        write_section(name, text, order=ORDER)


def write_section(name: str, markdown: str, path: str = BENCHMARKS_MD, order: tuple[str, ...] = ()) -> None:
    """Replace (or add) one benchmark's section in BENCHMARKS.md, keeping every other section as it is,
    so benchmarks written by different people and run at different times can share the file."""
    start, end = _marker(name)
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else f"{TITLE}\n\n{INTRO}\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        # Insert before the first section that should come after this one, else append.
        later = order[order.index(name) + 1:] if name in order else ()
        positions = [text.find(_marker(n)[0]) for n in later if _marker(n)[0] in text]
        at = min(positions) if positions else len(text)
        text = text[:at].rstrip("\n") + "\n\n" + block + "\n" + ("\n" + text[at:] if at < len(text) else "")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text.rstrip("\n") + "\n")
