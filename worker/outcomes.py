"""What one job can end as (Outcome), and what ends the whole drain (StopDrain).

Its own module because every part of the worker speaks it: the per-scene flow and the failure policy
return outcomes and raise StopDrain, the batch loop counts the outcomes, the drain prints the counts.
"""
from __future__ import annotations

import enum


class Outcome(enum.Enum):
    SYNCED = "synced"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"          # scene deleted, or dry run
    LOW = "low confidence"
    RETRYING = "retrying"
    DEAD = "dead-lettered"


class StopDrain(Exception):
    """A condition that ends the whole drain (bad token, Plex down); the job stays queued."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
