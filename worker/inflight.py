"""A few scenes in flight at once: the worker's jobs of one batch, run on a small pool of threads.

Most of a scene's sync is waiting (the cover from Stash, the edit and the poster upload to Plex), so a
few scenes at once keep Plex busy without more than a few requests outstanding. Rules that keep the
single-threaded guarantees:
- jobs of one scene run in one lane, in queue order, one after the other: two edits of a scene never
  overlap or overtake each other, and the later one (which reads Stash later) wins;
- a batch ends before the next one starts, so the same holds across batches (the worker takes and reads
  the next batch while one runs, but never hands out what it read for a scene of the running batch);
- every job is checked against the stop conditions before it starts: when the drain's slice ends, or
  an outage or a failing Stash ends the drain, the jobs not started are handed back to the queue
  untouched (persist-queue nack), so at most `lanes` requests meet a dead server;
- a job killed mid-way is an unacked persist-queue row: the next drain runs it again, as before.
"""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable

DEFAULT_LANES = 6   # the parallel_edits default (its 0 or empty): 4 left Plex idle between edits in the
                    # bulk benchmark (2 ms latency: 140 scenes/s against 146 with 6; 8 gained nothing more)
MAX_LANES = 16


def lanes_for(setting: Any) -> int:
    """The setting's value as a lane count: 0 (unset) is the default."""
    try:
        value = int(setting or 0)
    except (TypeError, ValueError):
        value = 0
    return DEFAULT_LANES if value <= 0 else min(value, MAX_LANES)


def group_by_scene(jobs: list[Any]) -> list[list[Any]]:
    """One lane per scene, each holding that scene's jobs in queue order."""
    lanes: dict[int, list[Any]] = {}
    for job in jobs:
        lanes.setdefault(job.scene_id, []).append(job)
    return list(lanes.values())


class Batch:
    """A started batch: its jobs and the futures of its lanes."""
    __slots__ = ("jobs", "futures")

    def __init__(self, jobs: list[Any], futures: list[Future]) -> None:
        self.jobs, self.futures = jobs, futures

    def scene_ids(self) -> set[int]:
        return {job.scene_id for job in self.jobs}


class InFlight:
    """Runs a batch's per-scene lanes on `lanes` threads and keeps the set of scenes being worked on."""

    def __init__(self, lanes: int) -> None:
        self.lanes = max(1, int(lanes))
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._busy: Counter[int] = Counter()  # a scene may be in the running batch and the next one

    def busy(self, scene_id: int) -> bool:
        """True while a job of this scene is claimed (taken for the running or the next batch)."""
        with self._lock:
            return self._busy[scene_id] > 0

    def claim(self, jobs: list[Any]) -> None:
        """Mark the batch's scenes busy; called before their state is read, so the drain keeps any newer
        update of them pending until the batch is done (instead of trusting a read already made)."""
        with self._lock:
            self._busy.update({job.scene_id for job in jobs})

    def start(self, jobs: list[Any], run_one: Callable[[Any], None], give_back: Callable[[Any], None],
              should_stop: Callable[[], bool]) -> Batch:
        """Start the claimed batch on the pool and return at once; `finish` waits for it."""
        lanes = group_by_scene(jobs)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.lanes, thread_name_prefix="PlexSync-lane")
        if self.lanes == 1 or len(lanes) == 1:
            futures = [self._pool.submit(self._run_lanes, lanes, run_one, give_back, should_stop)]
        else:
            futures = [self._pool.submit(self._run_lane, lane, run_one, give_back, should_stop) for lane in lanes]
        return Batch(jobs, futures)

    def finish(self, batch: Batch) -> None:
        """Wait for every lane; the batch's scenes stop being busy. A lane's unexpected exception is
        raised here (it ends the worker as it would have before)."""
        try:
            wait(batch.futures)
            for future in batch.futures:
                future.result()
        finally:
            self.release(batch.jobs)

    @classmethod
    def _run_lanes(cls, lanes: list[list[Any]], run_one: Callable[[Any], None], give_back: Callable[[Any], None],
                   should_stop: Callable[[], bool]) -> None:
        for lane in lanes:
            cls._run_lane(lane, run_one, give_back, should_stop)

    @staticmethod
    def _run_lane(lane: list[Any], run_one: Callable[[Any], None], give_back: Callable[[Any], None],
                  should_stop: Callable[[], bool]) -> None:
        for index, job in enumerate(lane):
            if should_stop():
                for rest in lane[index:]:
                    give_back(rest)
                return
            run_one(job)

    def release(self, jobs: list[Any]) -> None:
        """The jobs' scenes are no longer claimed by them."""
        with self._lock:
            self._busy.subtract({job.scene_id for job in jobs})
            self._busy = +self._busy  # drop zero counts

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
