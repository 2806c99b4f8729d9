"""Outages during a 500-scene drain: Plex refusing connections, answering 500, hanging past the read
timeout, and Stash's GraphQL failing for a while. Nothing is lost or dead-lettered, the circuit breaker
bounds the requests Plex receives while it is down, and the next "Process queue" recovers.
"""
from __future__ import annotations

import time

from sandbox import Sandbox
from tests.reliability import helpers as h
from tests.reliability.report import record_figures
from worker.circuit import FAILURE_THRESHOLD
from worker.inflight import DEFAULT_LANES

SCENES = 500
READ_TIMEOUT = 2
# Plex requests allowed while one outage lasts: the breaker opens after FAILURE_THRESHOLD failed jobs,
# each job making at most a couple of requests before its failure counts; with several edits in flight
# (parallel_edits), the other lanes' requests already under way when it opens reach Plex too.
OUTAGE_REQUEST_BOUND = FAILURE_THRESHOLD * 3 + DEFAULT_LANES - 1


def wait_edits(sb, n: int, timeout: float = 180) -> None:
    h.wait_for(lambda: len(h.edit_requests(sb)) >= n or sb.host.wait_idle(0), timeout=timeout, interval=0.02)


def warnings_since(sb, start: int, needle: str) -> int:
    return sum(1 for level, text in sb.host.log_snapshot()[start:] if level == "warning" and needle in text)


def test_outages_during_a_500_scene_drain(tmp_path):
    figures: dict[str, object] = {}
    with Sandbox(str(tmp_path / "sb"), scenes=SCENES, plex_items=SCENES + 20) as sb:
        # Covers off: this test is about outages, and uploads would double its running time.
        h.merge_config(sb, skip_cover=True, read_timeout=READ_TIMEOUT, connect_timeout=2)
        ids = h.comparable_scene_ids(sb)
        h.record_pending(sb, sb.world.scene_ids)
        presses = 0

        def press() -> None:
            nonlocal presses
            presses += 1
            sb.host.run_task(h.PLUGIN_ID, h.PROCESS_QUEUE)

        def plex_outage(name: str, at_edits: int, start_fault, end_fault) -> None:
            wait_edits(sb, at_edits)
            log_start = len(sb.host.log_snapshot())
            before = len(sb.plex.requests)
            start_fault()
            assert sb.host.wait_idle(120), f"{name}: the drain did not stop on its own"
            during = len(sb.plex.requests) - before
            end_fault()
            stopped = any("circuit breaker" in text for _l, text in sb.host.log_snapshot()[log_start:])
            figures[name] = {"plex_requests_during_outage": during,
                             "failed_jobs_during_outage": warnings_since(sb, log_start, "Plex unreachable"),
                             "drain_stopped_by_breaker": stopped}
            assert stopped, name
            assert during <= OUTAGE_REQUEST_BOUND, (name, during)
            assert not h.dead_letter_ids(sb), name
            press()  # recovery: the next Process queue, nothing else

        press()
        plex_outage("refused", 60, sb.plex.go_down, sb.plex.come_up)
        plex_outage("http_500", 150, lambda: sb.plex.fail_next(10_000, 500), lambda: sb.plex.fail_next(0))
        plex_outage("hang", 250, lambda: sb.plex.set_hang(True), lambda: sb.plex.set_hang(False))

        # Stash's GraphQL fails for a while: jobs wait and retry, the drain keeps the queue, nothing is lost.
        wait_edits(sb, 350)
        log_start = len(sb.host.log_snapshot())
        sb.stash.fail_graphql(500)
        h.wait_for(lambda: warnings_since(sb, log_start, "Stash:") >= 5 or sb.host.wait_idle(0), timeout=60)
        time.sleep(2)
        sb.stash.fail_graphql(None)
        figures["stash_graphql_500"] = {"failed_reads_during_outage": warnings_since(sb, log_start, "Stash:")}
        assert figures["stash_graphql_500"]["failed_reads_during_outage"] >= 1
        assert sb.host.wait_idle(180)
        if h.pending_ids(sb) or h.queued_jobs(sb):
            press()  # retries not yet due when the run ended: the next Process queue runs them
            assert sb.host.wait_idle(180)

        final = h.mismatches(sb, ids)
        figures.update(scenes=SCENES, manual_presses=presses, dead_letters=len(h.dead_letter_ids(sb)),
                       pending_left=len(h.pending_ids(sb)), queued_left=len(h.queued_jobs(sb)),
                       lost=len({sid for sid, *_ in final}), plex_edits=len(h.edit_requests(sb)),
                       breaker_threshold=FAILURE_THRESHOLD, read_timeout_s=READ_TIMEOUT,
                       error_lines=[t for lvl, t in sb.host.log_snapshot() if lvl == "error"][:3])
        record_figures("outages", figures)
        assert final == [], final[:5]
        assert not h.dead_letter_ids(sb) and not h.pending_ids(sb) and not h.queued_jobs(sb)
