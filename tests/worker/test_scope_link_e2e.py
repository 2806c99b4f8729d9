"""Issue 13 end to end, through the plugin host as Stash runs PlexSync: scope gates (a scene leaving the
scope is not synced and its Plex item left as it is, a scene entering it is synced by that save) and the
link both ways (Plex link added to the scene's URLs with no sync loop, Stash link in the summary)."""
from __future__ import annotations

import pytest

from plex.pin import item_url
from tests.worker.helpers import (configure, plex_item_for, plugin_lines, plugin_texts, record_pending, run_task,
                                  unambiguous, update_scene)

STASH_ID = [{"endpoint": "https://stashdb.org/graphql", "stash_id": "0b5a4a9e-1f0c-4a54-9d29-2d2f5e0c1a11"}]


def _why_skipped(sb, scene: int) -> list[str]:
    return [t for t in plugin_lines(sb, "debug") if f"scene {scene}: not synced, out of scope" in t]


def _gate_case(sb, gate: str):
    """(settings, in-scope edit, out-of-scope edit) for one gate."""
    night, vintage = sb.world.tags["Night"], sb.world.tags["Vintage"]
    return {
        "only_organized": ({"only_organized": True}, {"organized": True}, {"organized": False}),
        "only_with_stash_id": ({"only_with_stash_id": True}, {"stash_ids": STASH_ID}, {"stash_ids": []}),
        "only_with_tags": ({"only_with_tags": "night, Music"}, {"tag_ids": [str(night)]}, {"tag_ids": []}),
        "skip_scenes_with_tags": ({"skip_scenes_with_tags": "Vintage"}, {"tag_ids": []},
                                  {"tag_ids": [str(vintage)]}),
    }[gate]


@pytest.mark.parametrize("gate", ["only_organized", "only_with_stash_id", "only_with_tags",
                                  "skip_scenes_with_tags"])
def test_each_gate_keeps_a_scene_out_and_lets_it_in_with_the_save_that_enters_the_scope(sandbox, gate):
    sb = sandbox
    settings, enter, leave = _gate_case(sb, gate)
    configure(sb, debug_logging=True, **settings)
    scene = unambiguous(sb)[5]
    update_scene(sb, scene, **leave)                 # make sure it starts outside the scope
    assert sb.host.wait_idle(120)
    before = plex_item_for(sb, scene)

    # Outside the scope: an edit is not synced, the item is left as it is, one debug line says why.
    update_scene(sb, scene, title="Edited while out of scope")
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, scene) == before
    lines = _why_skipped(sb, scene)
    assert lines and gate in lines[-1] and "left as it is" in lines[-1]

    # Entering the scope: the gate's own field is the only thing this save changes, and it syncs.
    update_scene(sb, scene, **enter)
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, scene)["title"] == "Edited while out of scope"

    # Leaving again: later edits stay out of Plex, the item keeps what it had.
    update_scene(sb, scene, **leave)
    update_scene(sb, scene, title="Edited after leaving")
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, scene)["title"] == "Edited while out of scope"


def test_plex_link_is_added_to_the_scene_urls_once_with_no_loop_and_the_summary_links_back(sandbox):
    sb = sandbox
    configure(sb, link_plex_in_stash=True, stash_link_in_summary=True, debug_logging=True)
    scene = next(s for s in unambiguous(sb) if sb.stash.scene(s)["urls"])   # has a URL of the user's own
    users_url = sb.stash.scene(scene)["urls"]
    rk = sb.world.scene_rating_keys[scene][0]
    link = item_url(sb.plex.machine_identifier, rk)
    hooks_before = len([c for c in sb.stash.hook_calls if c["id"] == scene])
    drains_before = sum("Process queue:" in t for t in plugin_texts(sb))
    sb.plex.reset_requests()

    update_scene(sb, scene, details="Two lines\nof details")
    assert sb.host.wait_idle(120)

    urls = sb.stash.scene(scene)["urls"]
    assert urls == users_url + [link]                       # the user's URL kept, ours added once
    item = plex_item_for(sb, scene)
    base = sb.stash.url.rstrip("/")
    assert item["summary"] == f"Two lines\nof details\n\nStash: {base}/scenes/{scene}"
    # The user's save is one hook run, the URL write at most one more, and that one records nothing:
    hook_runs = [c for c in sb.stash.hook_calls if c["id"] == scene][hooks_before:]
    assert len(hook_runs) == 2 and hook_runs[1]["input"]["urls"] == {"values": [link], "mode": "ADD"}
    assert any(f"scene {scene}: update is PlexSync's own Plex link" in t for t in plugin_lines(sb, "debug"))
    assert any("update filtered: nothing to sync" in text for _lvl, text in sb.host.log_snapshot())
    assert sum("Process queue:" in t for t in plugin_texts(sb)) - drains_before == 1
    # ...and costs Plex nothing: the whole exchange is one item read and one edit (plus the cover).
    assert sb.plex.request_count("PUT") == 1
    assert [r["path"] for r in sb.plex.requests if r["method"] == "GET" and r["path"].startswith(
        "/library/metadata/")] == [f"/library/metadata/{rk}"]

    # Even if that scene is queued again, its state already holds the link: no Plex request at all.
    sb.plex.reset_requests()
    record_pending(sb, [scene])
    run_task(sb, "Process queue")
    assert sb.plex.requests == []
    assert any(f"scene {scene}: unchanged since the last sync" in t for t in plugin_lines(sb, "debug"))

    # A later sync neither adds the link again nor touches the user's URL.
    update_scene(sb, scene, title="Renamed")
    assert sb.host.wait_idle(120)
    assert sb.stash.scene(scene)["urls"] == users_url + [link]
    assert plex_item_for(sb, scene)["title"] == "Renamed"


def test_no_plex_link_without_a_sure_match_and_none_when_the_setting_is_off(sandbox):
    sb = sandbox
    configure(sb, allow_uncertain_matches=True)  # let the uncertain (LOW) match sync
    low = sb.world.clash_basename
    plain = unambiguous(sb)[1]
    configure(sb, link_plex_in_stash=True)
    urls_low = sb.stash.scene(low)["urls"]
    update_scene(sb, low, title="Uncertain")
    assert sb.host.wait_idle(120)
    assert sb.stash.scene(low)["urls"] == urls_low          # LOW confidence: no link written

    configure(sb, link_plex_in_stash=False)
    urls_plain = sb.stash.scene(plain)["urls"]
    update_scene(sb, plain, title="No link wanted")
    assert sb.host.wait_idle(120)
    assert sb.stash.scene(plain)["urls"] == urls_plain
    assert plex_item_for(sb, plain)["title"] == "No link wanted"
