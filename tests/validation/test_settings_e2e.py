"""Issue 15 end to end: a user who saved nothing but the Plex URL and token gets what Stash's settings page
shows (every switch off): every field synced, strictly; one click on a switch changes what it says."""
from __future__ import annotations

import hashlib

from plex.pin import item_url
from tests.worker.helpers import configure, plex_item_for, plugin_lines, png_data_url, update_scene


def only_plex_url_and_token(sb) -> None:
    # configurePlugin replaces the whole map: this leaves exactly the two keys a new user types in.
    sb.stash.set_plugin_config("PlexSync", {"plex_url": sb.plex.url, "plex_token": sb.plex.token})


def test_fresh_settings_sync_every_field_strictly_and_each_switch_acts_in_one_click(sandbox):
    sb = sandbox
    only_plex_url_and_token(sb)
    pinned, unpinned = 4, 5
    rk = sb.world.scene_rating_keys[pinned][0]
    cover_url, cover = png_data_url((40, 90, 160))
    studio = sb.world.studios["Studio Éclair"]
    performer = sb.world.performers["Zoë Ångström"]
    tag = sb.world.tags["Night"]
    # The pin is a sure match without any path_map.
    update_scene(sb, pinned, urls=[item_url(sb.plex.machine_identifier, rk)], title="Fresh install",
                 details="Every field", date="2020-02-02", code="FI-1", director="A. Director",
                 rating100=80, studio_id=str(studio), performer_ids=[str(performer)], tag_ids=[str(tag)],
                 cover_image=cover_url)
    # Without path_map this scene's file matches only by name: uncertain, so held for review.
    update_scene(sb, unpinned, title="Uncertain")
    assert sb.host.wait_idle(120)

    item = sb.plex.item(rk)
    assert (item["title"], item["summary"], item["originallyAvailableAt"], item["tagline"]) == \
        ("Fresh install", "Every field", "2020-02-02", "FI-1")
    assert item["studio"] == "Studio Éclair" and item["actors"] == ["Zoë Ångström"]
    assert item["genres"] == ["Night"] and item["directors"] == ["A. Director"]
    assert item["userRating"] == 8.0 and item["poster_sha1"] == hashlib.sha1(cover).hexdigest()
    for locked in ("title", "summary", "originallyAvailableAt", "tagline", "studio", "actor", "genre",
                   "director", "thumb"):
        assert locked in item["locked"], locked
    assert plex_item_for(sb, unpinned)["title"] != "Uncertain"
    assert any(f"LOW CONFIDENCE scene {unpinned} " in line and "Allow uncertain matches is off" in line
               for line in plugin_lines(sb, "warning"))

    # One click on "Allow uncertain matches" stores true: the uncertain scene is now synced.
    configure(sb, allow_uncertain_matches=True)
    update_scene(sb, unpinned, title="Uncertain, allowed")
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, unpinned)["title"] == "Uncertain, allowed"

    # One click on "Skip tags": tags stay as Plex has them, other fields still follow Stash.
    configure(sb, skip_tags=True)
    update_scene(sb, pinned, title="Tags skipped", tag_ids=[str(sb.world.tags["Travel"])])
    assert sb.host.wait_idle(120)
    item = sb.plex.item(rk)
    assert item["title"] == "Tags skipped" and item["genres"] == ["Night"]

    # One click on "Pause sync": a save is not recorded and Plex is not touched.
    configure(sb, pause_sync=True)
    update_scene(sb, pinned, title="Paused")
    assert sb.host.wait_idle(120)
    assert sb.plex.item(rk)["title"] == "Tags skipped"
