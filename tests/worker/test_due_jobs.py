"""worker/due_jobs.py: which queued jobs are due, and the ones held until their retry time, through the
real job queue (worker/jobs.py) in a temporary data folder."""
from __future__ import annotations

import time

import pytest

from queue.database import connect
from worker import late_arrivals
from worker.due_jobs import DueJobs
from worker.jobs import JobQueue, new_job

LATER = 3600.0  # seconds ahead: a retry time that does not come during a test


@pytest.fixture
def jobs(tmp_path):
    data_dir = str(tmp_path / "data")
    connect(data_dir).close()
    queue = JobQueue(data_dir)
    yield queue
    queue.close()


def put(queue: JobQueue, scene_id: int, not_before: float = 0.0, **data) -> None:
    queue.put(dict(new_job(scene_id, "test"), not_before=not_before, **data))


def never() -> bool:
    return False


def ids(taken) -> list[int]:
    return [job.scene_id for job in taken]


def test_due_jobs_come_in_queue_order_and_the_others_are_held(jobs):
    later = time.time() + LATER
    put(jobs, 1)
    put(jobs, 2, not_before=later)
    put(jobs, 3)
    due = DueJobs(jobs)
    assert ids(due.take_batch(10, never)) == [1, 3]
    assert due.count() == 1 and due.next_retry_at() == later
    assert jobs.waiting_count() == 0  # the held job is taken from the queue: never handed out twice
    assert due.take() is None


def test_a_batch_ends_at_its_size_or_when_the_worker_stops(jobs):
    for scene_id in range(1, 6):
        put(jobs, scene_id)
    due = DueJobs(jobs)
    assert ids(due.take_batch(2, never)) == [1, 2]
    assert due.take_batch(10, lambda: True) == []
    assert ids(due.take_batch(10, never)) == [3, 4, 5]


def test_a_held_scene_that_changed_again_is_due_at_once_and_comes_first(jobs):
    put(jobs, 1, not_before=time.time() + LATER)
    due = DueJobs(jobs)
    assert due.take_batch(10, never) == []
    assert due.make_scene_due(99) is False  # not held here
    assert due.make_scene_due(1) is True
    put(jobs, 2)
    assert ids(due.take_batch(10, never)) == [1, 2]
    assert due.count() == 0 and due.next_retry_at() is None


def test_a_rebuilt_path_index_makes_only_the_jobs_waiting_for_plex_due(jobs):
    later = time.time() + LATER
    put(jobs, 1, not_before=later, kind="no-match")
    put(jobs, 2, not_before=later, kind=late_arrivals.KIND)
    put(jobs, 3, not_before=later, kind="outage")
    put(jobs, 4, not_before=later, kind="stash")
    due = DueJobs(jobs)
    assert due.take_batch(10, never) == []
    assert due.count() == 4 and due.late_arrivals_waiting() == 1
    due.make_no_match_jobs_due()
    assert sorted(ids(due.take_batch(10, never))) == [1, 2]
    assert due.count() == 2 and due.late_arrivals_waiting() == 0


def test_release_gives_the_held_jobs_back_to_the_queue_in_their_place(jobs):
    later = time.time() + LATER
    put(jobs, 1, not_before=later)
    put(jobs, 2, not_before=later)
    due = DueJobs(jobs)
    assert due.take_batch(10, never) == []
    assert due.release() == 2
    assert due.count() == 0 and due.release() == 0
    assert jobs.waiting_count() == 2
    assert [jobs.get_nowait().scene_id, jobs.get_nowait().scene_id] == [1, 2]


def test_a_press_of_process_queue_makes_every_job_queued_before_it_due(jobs):
    pressed_at = time.time()
    later = pressed_at + LATER
    put(jobs, 1, not_before=later, requeued_at=pressed_at - 10)  # a retry queued before the press
    put(jobs, 2, not_before=later, requeued_at=pressed_at + 10)  # re-queued by this run itself
    put(jobs, 3, not_before=later)                               # never re-queued
    automatic = DueJobs(jobs, manual=False, started_at=pressed_at)
    assert automatic.take_batch(10, never) == []  # a hook's run waits for every retry time
    assert automatic.release() == 3
    pressed = DueJobs(jobs, manual=True, started_at=pressed_at)
    assert ids(pressed.take_batch(10, never)) == [1, 3]
    assert pressed.count() == 1 and pressed.next_retry_at() == later
