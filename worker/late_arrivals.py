"""Scenes whose file is not in Plex yet: retried on a growing backoff over a bounded horizon.

New downloads usually reach Stash first (its scan fires the hook, the drain runs) and Plex a minute or
more later. Such a scene is retried soon, then less and less often, for about 30 minutes; after that it
becomes a dead letter whose line says what to check. While such scenes wait, the drain may stay and
wait for them (worker/drain_wait.py). A scene with no file at all is not a late arrival: it keeps the
ordinary no-match retries.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from plex.matcher import Confidence, MatchResult
from plex.paths import map_stash_path
from worker import retry

KIND = "not-in-plex"
TIMING_ENV = "PLEXSYNC_LATE_TIMING"  # "first,cap,horizon" in seconds; lets tests shorten the wait


@dataclass(frozen=True)
class Timing:
    first: float = 15.0      # first retry at most this long after the miss (jitter: half to all), doubling ...
    cap: float = 300.0       # ... up to this gap between looks
    horizon: float = 1800.0  # then a dead letter, this long after the first miss


def timing() -> Timing:
    raw = os.environ.get(TIMING_ENV, "")
    try:
        first, cap, horizon = (float(x) for x in raw.split(","))
        return Timing(first, cap, horizon)
    except ValueError:
        return Timing()


def is_late_arrival(result: MatchResult) -> bool:
    """No Plex item has any of the scene's files (and it has files): Plex may not have scanned it yet."""
    return result.confidence is Confidence.NONE and bool(result.stash_paths)


def explain(result: MatchResult, session: Any, settings: Any, waited: float) -> str:
    """The dead letter's text: what was looked for, and the three things that are usually wrong."""
    mapped = map_stash_path(result.stash_path, tuple(getattr(settings, "path_map", ()) or ()))
    libraries = ", ".join(f"{s.title!r} ({', '.join(getattr(s, 'locations', ()) or ())})"
                          for s in getattr(session, "sections", ()))
    within = f"{waited / 60:.0f} minutes" if waited >= 60 else f"{waited:.0f} s"
    return (f"the file {result.stash_path} did not appear in Plex within {within} (looked for "
            f"{mapped!r}): check path_map (Stash path prefix => Plex path prefix), that the file's folder is "
            f"inside one of the Plex libraries ({libraries or 'none configured'}), and that Plex has scanned "
            f"that folder (Plex Web: the library's ... menu -> Scan Library Files)")


def next_step(job: Any, result: MatchResult, session: Any, settings: Any,
              now: float | None = None) -> tuple[str, str, retry.Backoff, int | None]:
    """FailurePolicy.retry's arguments (kind, error, backoff, dead_after) for a late arrival: retry on the
    growing backoff while inside the horizon, a dead letter (dead_after=0) after it."""
    now = time.time() if now is None else now
    first_missed = float(job.data.get("first_missed_at") or now)
    job.data["first_missed_at"] = first_missed  # carried into the re-queued job's data
    t = timing()
    waited = now - first_missed
    if waited >= t.horizon:
        return KIND, explain(result, session, settings, waited), retry.Backoff(t.first, t.cap), 0
    error = f"no Plex item has the file {result.stash_path} yet ({result.reason}); waiting for Plex to scan it"
    return KIND, error, retry.Backoff(t.first, t.cap), None
