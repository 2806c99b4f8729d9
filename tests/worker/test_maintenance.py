"""Issue 5: the queue management tasks through the sandbox host ("Queue status", "Review low-confidence
matches", "Retry dead letters", "Clear pending queue", "Purge dead letters older than 30 days")."""
from __future__ import annotations

import re
import time

from plex.pin import item_url
from queue import dead_letters, lease, pending
from queue.database import connect, transaction
from tests.worker.helpers import count, plugin_lines, run_task
from worker.circuit import CircuitBreaker
from worker.jobs import JobQueue, new_job, queued_scene_rows


def new_lines(sb, start: int) -> list[tuple[str, str]]:
    return [(lvl, text) for lvl, text in sb.host.log_snapshot()[start:] if "[Plugin / PlexSync]" in text]


def run(sb, task: str) -> list[tuple[str, str]]:
    start = len(sb.host.log_snapshot())
    run_task(sb, task)
    return new_lines(sb, start)


def test_queue_status_reports_every_part_of_the_queue_one_line_each(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")  # leaves 2 low-confidence reviews and a last drain summary
    conn = connect(sb.info["data_dir"])
    try:
        pending.record_many(conn, [3, 4], "test")
        jobs = JobQueue(sb.info["data_dir"])  # no drain runs now, so the test may open persist-queue
        try:
            jobs.put(new_job(5, "test"))
            retry_at = time.time() + 3600
            jobs.put(dict(new_job(6, "test"), attempt=2, not_before=retry_at, last_error="Plex unreachable: boom"))
        finally:
            jobs.close()
        with transaction(conn):
            dead_letters.add(conn, 7, "no Plex item has the file /x.mp4", 5, new_job(7, "test"))
        breaker = CircuitBreaker.load(conn)
        for _ in range(3):
            breaker.record_failure("ConnectionError: refused")
    finally:
        conn.close()

    lines = run(sb, "Queue status")
    texts = [t for _lvl, t in lines]
    assert any("Queue status: 2 pending, 1 queued, 0 in flight, 1 waiting for retry, 1 dead letter(s), "
               "2 low-confidence review(s)" in t for t in texts), texts
    when = time.strftime("%H:%M:%S", time.localtime(retry_at))
    assert any("waiting for retry: 1 scene(s), next retry at" in t and when in t and "boom" in t for t in texts)
    assert any("dead letters: scene(s) 7" in t and "Retry dead letters" in t for t in texts)
    assert any("last Process queue run finished at" in t and "18 synced" in t for t in texts)
    assert any("Plex circuit breaker: open after 3 failures" in t for t in texts)
    assert any("Process queue: not running" in t for t in texts)
    assert all("\n" not in t for t in texts)
    assert count(sb, "pending") == 2  # status changes nothing


def test_review_task_relogs_each_recorded_review_line(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")
    conn = connect(sb.info["data_dir"])
    try:
        recorded = [line for _sid, line, _at in conn.execute("SELECT scene_id, line, recorded_at FROM reviews")]
    finally:
        conn.close()
    assert len(recorded) == 2
    lines = run(sb, "Review low-confidence matches")
    warnings = [t for lvl, t in lines if lvl == "warning"]
    assert [w.split("] ", 1)[1] for w in warnings] == recorded
    for w in warnings:
        assert "ratingKey" in w and "https://app.plex.tv/desktop/#!/server/" in w
    assert any("Review: 2 low-confidence match(es)" in t for _lvl, t in lines)


def test_retry_dead_letters_queues_them_again_and_the_drain_syncs_a_fixed_scene(sandbox, monkeypatch):
    sb = sandbox
    monkeypatch.setenv("PLEXSYNC_LATE_TIMING", "0.5,1,2")  # a file Plex never scans: dead letter after 2 s
    lost = sb.stash.add_scene("Lost Scene", ["/data/scenes/Nowhere/lost.mp4"])
    run_task(sb, "Sync all")
    assert count(sb, "dead_letters") == 1
    assert any("giving up" in t and f"scene {lost}" in t for t in plugin_lines(sb, "error"))

    target = sb.world.plex_only[0]
    pin = item_url(sb.plex.machine_identifier, target)
    sb.stash.touch_scene_without_hook(lost, urls=[pin])  # the user pins the Plex item
    lines = run(sb, "Retry dead letters")
    assert any("Retry dead letters: 1 scene(s) queued again; drain requested" in t for _l, t in lines)
    assert count(sb, "dead_letters") == 0
    assert sb.plex.item(target)["title"] == "Lost Scene"

    lines = run(sb, "Retry dead letters")
    assert any("Retry dead letters: there are none" in t for _l, t in lines)


def test_clear_pending_clears_pending_and_queued_jobs_when_no_drain_runs(sandbox):
    sb = sandbox
    conn = connect(sb.info["data_dir"])
    try:
        pending.record_many(conn, [1, 2, 3], "test")
        jobs = JobQueue(sb.info["data_dir"])
        try:
            jobs.put(new_job(4, "test"))
        finally:
            jobs.close()
        lines = run(sb, "Clear pending queue")
        assert any("Clear pending queue: 3 pending and 1 queued scene(s) cleared" in t for _l, t in lines)
        assert pending.count(conn) == 0 and queued_scene_rows(conn) == []
        assert lease.live_holder(conn) is None  # the task gave its lease back
    finally:
        conn.close()


def test_clear_pending_leaves_a_running_drains_jobs_alone(sandbox):
    sb = sandbox
    conn = connect(sb.info["data_dir"])
    try:
        jobs = JobQueue(sb.info["data_dir"])
        try:
            jobs.put(new_job(4, "test"))
        finally:
            jobs.close()
        pending.record_many(conn, [1, 2], "test")
        assert lease.acquire(conn, "a-running-drain", ttl=120)  # stands for a drain at work
        try:
            lines = run(sb, "Clear pending queue")
        finally:
            lease.release(conn, "a-running-drain")
        assert any("2 pending scene(s) cleared; a Process queue run is working" in t for _l, t in lines)
        assert pending.count(conn) == 0
        assert [job["scene_id"] for _pqid, job, _status in queued_scene_rows(conn)] == [4]
    finally:
        conn.close()


def test_purge_deletes_only_dead_letters_older_than_30_days(sandbox):
    sb = sandbox
    conn = connect(sb.info["data_dir"])
    try:
        now = time.time()
        with transaction(conn):
            dead_letters.add(conn, 1, "old failure", 5, new_job(1, "test"), now=now - 31 * 86400)
            dead_letters.add(conn, 2, "recent failure", 5, new_job(2, "test"), now=now - 29 * 86400)
        lines = run(sb, "Purge dead letters older than 30 days")
        assert any(re.search(r"Purge dead letters: 1 older than 30 days deleted, 1 kept", t) for _l, t in lines)
        assert [d.scene_id for d in dead_letters.all_letters(conn)] == [2]
    finally:
        conn.close()
