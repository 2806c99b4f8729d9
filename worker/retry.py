"""Retry timing: exponential backoff with jitter, per kind of failure."""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """attempt 1 -> about base, doubling, capped; jitter keeps retries of a bulk edit apart."""
        rng = rng or random
        raw = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return raw * (0.5 + rng.random() / 2)


# Plex down or overloaded: retry soon, never give up (an outage is not the job's fault).
OUTAGE = Backoff(base=5.0, cap=300.0)
# Stash down or a GraphQL error.
STASH = Backoff(base=5.0, cap=120.0)
# No Plex item yet: Plex may not have scanned the file; spread retries over roughly an hour.
NO_MATCH = Backoff(base=60.0, cap=1800.0)
