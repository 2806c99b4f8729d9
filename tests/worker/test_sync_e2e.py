"""Issue 4 end to end: Stash edits reach Plex through the hook and the "Process queue" task, as Stash
runs them (real plugin processes, real plexapi and stashapi against the simulated servers)."""
from __future__ import annotations

import hashlib
import threading

import pytest

from tests.worker.helpers import (bulk_update, configure, count, plex_item_for, plugin_lines, plugin_texts,
                                  png_data_url, record_pending, run_task, unambiguous, update_scene)


def test_one_edit_reaches_plex_with_every_field_locked_and_nothing_else_changes(sandbox):
    sb = sandbox
    scene = 4
    rk = sb.world.scene_rating_keys[scene][0]
    others_before = {i["rating_key"]: i for i in sb.plex.items() if i["rating_key"] != rk}
    cover_url, cover = png_data_url((10, 200, 30))
    studio_id = sb.world.studios["Studio Éclair"]
    performers = [sb.world.performers["Zoë Ångström"], sb.world.performers["Kenji Watanabe"]]
    tags = [sb.world.tags["Night"], sb.world.tags["Travel"]]
    update_scene(sb, scene, title="Harbour Lights", details="Two lines\nof details", date="2021-07",
                 code="HL-7", studio_id=str(studio_id), performer_ids=[str(p) for p in performers],
                 tag_ids=[str(t) for t in tags], cover_image=cover_url)
    assert sb.host.wait_idle(120)
    item = sb.plex.item(rk)
    assert item["title"] == "Harbour Lights"
    assert item["studio"] == "Studio Éclair"
    assert item["summary"] == "Two lines\nof details"
    assert item["originallyAvailableAt"] == "2021-07-01" and item["year"] == 2021
    assert item["tagline"] == "HL-7"
    assert sorted(item["actors"]) == ["Kenji Watanabe", "Zoë Ångström"]
    assert sorted(item["genres"]) == ["Night", "Travel"]
    assert item["poster_sha1"] == hashlib.sha1(cover).hexdigest()
    for name in ("title", "studio", "summary", "originallyAvailableAt", "tagline", "actor", "genre", "thumb"):
        assert name in item["locked"], name
    others_after = {i["rating_key"]: i for i in sb.plex.items() if i["rating_key"] != rk}
    assert others_after == others_before


def test_removed_tag_and_performer_disappear_from_plex(sandbox):
    sb = sandbox
    scene = 6
    keep_p, drop_p = sb.world.performers["Ava Lindqvist"], sb.world.performers["Marco Bellini"]
    keep_t, drop_t = sb.world.tags["Drama"], sb.world.tags["Comedy"]
    update_scene(sb, scene, performer_ids=[str(keep_p), str(drop_p)], tag_ids=[str(keep_t), str(drop_t)])
    assert sb.host.wait_idle(120)
    assert sorted(plex_item_for(sb, scene)["actors"]) == ["Ava Lindqvist", "Marco Bellini"]
    update_scene(sb, scene, performer_ids=[str(keep_p)], tag_ids=[str(keep_t)])
    assert sb.host.wait_idle(120)
    item = plex_item_for(sb, scene)
    assert item["actors"] == ["Ava Lindqvist"] and item["genres"] == ["Drama"]
    update_scene(sb, scene, tag_ids=[])
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, scene)["genres"] == []


def test_bulk_edit_of_200_scenes_one_drain_within_the_request_budget(tmp_path):
    from plex.pin import item_url
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=200, plex_items=220) as sb:
        # Pin the two seeded clashes so every scene has a HIGH match.
        for sid in (sb.world.clash_both_sections, sb.world.clash_basename):
            rk = (sb.world.scene_rating_keys.get(sid) or sb.world.clash_basename_items)[0]
            update_scene(sb, sid, urls=[item_url(sb.plex.machine_identifier, rk)])
        record_pending(sb, sb.world.scene_ids)
        run_task(sb, "Process queue", timeout=300)
        assert count(sb, "sync_state") == 200
        sb.plex.reset_requests()
        drains_before = sum("Process queue:" in t for t in plugin_texts(sb))
        bulk_update(sb, sb.world.scene_ids, details="Bulk details ✓")
        assert sb.host.wait_idle(300)
        summaries = [t for t in plugin_texts(sb) if "Process queue:" in t][drains_before:]
        assert len(summaries) == 1 and "200 synced" in summaries[0], summaries
        assert all(plex_item_for(sb, sid)["summary"] == "Bulk details ✓" for sid in unambiguous(sb))
        metadata_gets = sb.plex.request_count("GET", "/library/metadata/")
        puts = sb.plex.request_count("PUT")
        index_pages = sb.plex.request_count("GET", "/library/sections/") - sb.plex.request_count(
            "GET", "/library/sections/1/all?") * 0
        posters = sb.plex.request_count("POST")
        assert posters == 0  # covers did not change
        assert metadata_gets + puts <= 2 * 200
        assert sb.plex.request_count() <= 2 * 200 + index_pages + 3  # + connect and section list


def test_plex_down_for_half_a_drain_loses_nothing(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=100, plex_items=110) as sb:
        ids = unambiguous(sb)
        record_pending(sb, ids)
        run_task(sb, "Process queue", timeout=300)
        sb.plex.reset_requests()
        stop = threading.Event()

        def cut_plex_after_half() -> None:
            while not stop.is_set():
                if sb.plex.request_count("PUT") >= len(ids) // 2:
                    sb.plex.go_down()
                    return
                stop.wait(0.005)

        watcher = threading.Thread(target=cut_plex_after_half, daemon=True)
        watcher.start()
        bulk_update(sb, ids, director="Outage Survivor")
        assert sb.host.wait_idle(300)
        stop.set()
        watcher.join(5)
        assert not sb.plex.is_up
        assert count(sb, "dead_letters") == 0
        assert any("Plex is not answering" in t for t in plugin_lines(sb, "error"))
        synced_during = sum(plex_item_for(sb, sid)["directors"] == ["Outage Survivor"] for sid in ids)
        assert len(ids) // 2 - 1 <= synced_during < len(ids)
        sb.plex.come_up()
        run_task(sb, "Process queue", timeout=300)
        assert all(plex_item_for(sb, sid)["directors"] == ["Outage Survivor"] for sid in ids)
        assert count(sb, "dead_letters") == 0


def test_wrong_token_stops_the_drain_and_keeps_the_jobs(sandbox):
    sb = sandbox
    configure(sb, plex_token="not-the-token")
    update_scene(sb, 3, title="Needs a token")
    assert sb.host.wait_idle(120)
    errors = plugin_lines(sb, "error")
    assert sum("check the Plex token" in e for e in errors) == 1, errors
    assert not any("not-the-token" in t for t in plugin_texts(sb))
    assert count(sb, "dead_letters") == 0
    assert plex_item_for(sb, 3)["title"] != "Needs a token"
    configure(sb, plex_token=sb.plex.token)
    run_task(sb, "Process queue")
    assert plex_item_for(sb, 3)["title"] == "Needs a token"


@pytest.mark.parametrize("strict", [True, False])
def test_ambiguous_match_review_line(sandbox, strict):
    sb = sandbox
    configure(sb, allow_uncertain_matches=not strict)
    sid = sb.world.clash_both_sections
    rks = sb.world.scene_rating_keys[sid]
    assert len(rks) == 2
    update_scene(sb, sid, title="Which one?")
    assert sb.host.wait_idle(120)
    reviews = [w for w in plugin_lines(sb, "warning") if "LOW CONFIDENCE" in w]
    assert len(reviews) == 1
    line = reviews[0]
    assert f"scene {sid}" in line and sb.world.scene_files[sid] in line
    for rk in rks:
        assert f"ratingKey {rk}" in line
    assert "app.plex.tv" in line and "URL" in line
    titles = [sb.plex.item(rk)["title"] for rk in rks]
    if strict:
        assert "Which one?" not in titles and count(sb, "reviews") == 1
        assert "not synced" in line
    else:
        assert titles.count("Which one?") == 1 and "synced ratingKey" in line


def test_pinned_plex_url_wins(sandbox):
    from urllib.parse import quote

    sb = sandbox
    sid = sb.world.clash_basename
    target = sb.world.clash_basename_items[1]
    url = ("https://app.plex.tv/desktop/#!/server/" + sb.plex.machine_identifier + "/details?key="
           + quote(f"/library/metadata/{target}", safe=""))
    update_scene(sb, sid, title="Pinned", urls=[url])
    assert sb.host.wait_idle(120)
    assert sb.plex.item(target)["title"] == "Pinned"
    assert sb.plex.item(sb.world.clash_basename_items[0])["title"] != "Pinned"


def test_path_map_is_what_makes_the_match(sandbox):
    sb = sandbox
    configure(sb, path_map="")
    update_scene(sb, 5, title="No map")
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, 5)["title"] != "No map"
    # Without the map only the file name matches: LOW confidence, held for review (strict matching).
    assert any("LOW CONFIDENCE scene 5 " in w for w in plugin_lines(sb, "warning"))
    configure(sb, path_map="/data/=>/media/")
    update_scene(sb, 5, details="saved again")  # a held review waits for the scene to change
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, 5)["title"] == "No map"
    assert count(sb, "reviews") == 0


def test_unicode_and_10000_character_details_round_trip(sandbox):
    sb = sandbox
    text = ("Zoë 👩‍👩‍👧 “quoted” — dash\ttab\r\nCRLF " * 300)[:10_000]
    update_scene(sb, 7, title="Ünïcödé 🎬 ‍ZWJ", details=text)
    assert sb.host.wait_idle(120)
    item = plex_item_for(sb, 7)
    assert item["summary"] == text and len(item["summary"]) == 10_000
    assert item["title"] == "Ünïcödé 🎬 ‍ZWJ"


def test_scene_with_two_files_matches_through_either(sandbox):
    sb = sandbox
    section = sb.world.sections["Scenes"]
    rk = sb.plex.add_item(section, "second-file", ["/media/scenes/Extra/second.mp4"])
    sid = sb.stash.add_scene("Two files", files=["/data/scenes/Extra/missing-first.mp4",
                                                 "/data/scenes/Extra/second.mp4"])
    update_scene(sb, sid, details="two files")
    assert sb.host.wait_idle(120)
    assert sb.plex.item(rk)["summary"] == "two files"


def test_scene_with_no_file_is_dead_lettered_after_its_retries(sandbox):
    sb = sandbox
    configure(sb, max_retries=1)
    sid = sb.stash.add_scene("No file", files=[])
    update_scene(sb, sid, details="nowhere")
    assert sb.host.wait_idle(120)
    summaries = [t for t in plugin_texts(sb) if "Process queue:" in t]
    assert "next retry due" in summaries[-1]  # the drain did not wait out the retry delay
    assert count(sb, "dead_letters") == 0
    run_task(sb, "Process queue")  # a press of the button makes the retry due at once
    assert count(sb, "dead_letters") == 1
    assert any("giving up" in e and f"scene {sid}" in e for e in plugin_lines(sb, "error"))


def test_progress_reaches_one_and_a_second_drain_exits_at_once(sandbox):
    from queue import lease
    from queue.database import connect

    sb = sandbox
    record_pending(sb, [1, 2, 3])
    job = run_task(sb, "Process queue")
    assert job["progress"] == pytest.approx(1.0)
    conn = connect(sb.info["data_dir"])
    try:
        assert lease.acquire(conn, "someone-else", ttl=60)
        record_pending(sb, [4])
        run_task(sb, "Process queue")
        assert any("already working" in t for t in plugin_texts(sb))
        assert count(sb, "pending") == 1
    finally:
        lease.release(conn, "someone-else")
        conn.close()


def test_drain_gives_the_job_queue_back_after_its_time_slice(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=60, plex_items=70, latency_ms=60) as sb:
        configure(sb, drain_slice_seconds=10)
        ids = unambiguous(sb)
        record_pending(sb, ids)
        run_task(sb, "Process queue", timeout=300)
        assert sb.host.wait_idle(300)
        summaries = [t for t in plugin_texts(sb) if "Process queue:" in t]
        assert any("re-queued" in s for s in summaries) and len(summaries) >= 2
        assert count(sb, "sync_state") == len(ids)
