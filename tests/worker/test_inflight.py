"""Several scenes in flight at once (worker/inflight.py), read ahead in batches (worker/read_ahead.py):
edits of one scene still reach Plex one after the other, in order, and the last one wins."""
from __future__ import annotations

from tests.worker.helpers import bulk_update, configure, unambiguous, update_scene
from worker.inflight import DEFAULT_LANES, group_by_scene, lanes_for
from worker.jobs import QueuedJob


def _edits_of(sb, rating_key: int) -> list[dict]:
    return [r for r in sb.plex.requests
            if r["method"] == "PUT" and str(rating_key) in str(r["query"].get("id", "")).split(",")]


def test_two_edits_of_one_scene_never_reach_plex_out_of_order_while_several_are_in_flight(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=30, plex_items=40, latency_ms=25) as sb:
        configure(sb, parallel_edits=4)
        ids = unambiguous(sb)
        target, others = ids[0], ids[1:]
        rating_key = sb.world.scene_rating_keys[target][0]
        for n in range(5):
            # Many scenes change at once (the lanes fill up) and the target changes again each round,
            # while the drain that the first hooks started is already running.
            bulk_update(sb, others, details=f"round {n}")
            update_scene(sb, target, title=f"Edit {n}")
        assert sb.host.wait_idle(300)

        titles = [r["query"]["title.value"] for r in _edits_of(sb, rating_key) if "title.value" in r["query"]]
        rounds = [int(t.rsplit(" ", 1)[1]) for t in titles]
        assert rounds and rounds == sorted(rounds), titles   # never an older edit after a newer one
        assert rounds[-1] == 4
        assert sb.plex.item(rating_key)["title"] == "Edit 4"  # the last edit won
        for sid in others:
            assert sb.plex.item(sb.world.scene_rating_keys[sid][0])["summary"] == "round 4", sid
        # The premise: the drain really kept several Plex requests outstanding at once.
        assert max(r["in_flight"] for r in sb.plex.requests) > 1


def test_a_first_sync_reads_scenes_and_items_in_batches(tmp_path):
    """One findScenes per batch and one GET of many items: about one Plex request per changed scene plus
    one per poster (the edit itself), instead of three."""
    from sandbox import Sandbox
    from tests.worker.helpers import record_pending, run_task
    with Sandbox(str(tmp_path / "sb"), scenes=120, plex_items=130) as sb:
        ids = unambiguous(sb)
        sb.plex.reset_requests()
        record_pending(sb, ids)
        run_task(sb, "Process queue", timeout=300)
        requests = sb.plex.requests
        edits = [r for r in requests if r["method"] == "PUT" and "id" in r["query"]]
        posters = [r for r in requests if r["method"] == "POST" and r["path"].endswith("/posters")]
        item_reads = [r for r in requests if r["method"] == "GET" and r["path"].startswith("/library/metadata/")]
        assert len(edits) == len(ids)
        assert any("," in r["path"] for r in item_reads)           # many items in one GET
        assert len(item_reads) <= len(ids) * 0.2                   # not one GET per scene
        assert (len(requests) - len(posters)) / len(ids) <= 1.2 + 10 / len(ids)  # + session and index pages


def test_lanes_setting_zero_means_the_default_and_jobs_of_a_scene_share_a_lane():
    assert lanes_for(0) == DEFAULT_LANES and lanes_for(None) == DEFAULT_LANES and lanes_for(2) == 2
    assert lanes_for(1000) == 16
    jobs = [QueuedJob(pqid=i, data={"scene_id": sid}) for i, sid in enumerate([5, 7, 5, 9, 7, 5])]
    lanes = group_by_scene(jobs)
    assert [[j.pqid for j in lane] for lane in lanes] == [[0, 2, 5], [1, 4], [3]]  # queue order kept
