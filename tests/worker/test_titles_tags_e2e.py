"""Issue 13 end to end, through the plugin host as Stash runs PlexSync: title and sort title templates,
the content rating, where tags go (genres / labels / both) and tag exclusions by name and by parent tag."""
from __future__ import annotations

from tests.worker.helpers import configure, plex_item_for, plugin_texts, run_task, unambiguous, update_scene

TEMPLATE = "{performers} - {title} ({date})"


def test_title_template_drops_empty_placeholders_and_writes_everything_locked(sandbox):
    sb = sandbox
    configure(sb, title_template=TEMPLATE, sort_title_template="{date} {title}", content_rating="XXX")
    first, untitled, third = sb.world.scene_ids[2], sb.world.scene_ids[1], sb.world.scene_ids[4]
    zoe, kenji = sb.world.performers["Zoë Ångström"], sb.world.performers["Kenji Watanabe"]
    update_scene(sb, first, title="Harbour Lights", date=None, performer_ids=[str(zoe), str(kenji)])
    update_scene(sb, untitled, date="2021-07-04", performer_ids=[])
    update_scene(sb, third, title="Only Title", date="2020", performer_ids=[])
    assert sb.host.wait_idle(120)

    item = plex_item_for(sb, first)
    assert item["title"] == "Zoë Ångström, Kenji Watanabe - Harbour Lights"   # no "()" for the missing date
    assert item["titleSort"] == "Harbour Lights"                               # no date: no leading space
    assert item["contentRating"] == "XXX"
    assert {"title", "titleSort", "contentRating"} <= item["locked"]

    # No title and no performers: the file name stands in for {title}, no dangling " - ".
    file_stem = sb.world.scene_files[untitled].rsplit("/", 1)[1].rsplit(".", 1)[0]
    item = plex_item_for(sb, untitled)
    assert item["title"] == f"{file_stem} (2021-07-04)"
    assert item["titleSort"] == f"2021-07-04 {file_stem}"

    item = plex_item_for(sb, third)
    assert item["title"] == "Only Title (2020)" and item["titleSort"] == "2020 Only Title"


def test_title_template_with_unicode_and_very_long_values_is_capped_on_a_character_boundary(sandbox):
    sb = sandbox
    configure(sb, title_template="{studio} / {parent_studio}: {title} [{group} #{scene_index}]")
    scene = next(s for s in unambiguous(sb) if sb.stash.scene(s)["groups"])
    family = "👩\u200d👩\u200d👧"
    long_title = ("Café " + family + " ") * 60
    studio = sb.world.studios["Harbor Nights"]   # child of Blue Harbor Films
    update_scene(sb, scene, title=long_title, studio_id=str(studio))
    assert sb.host.wait_idle(120)
    title = plex_item_for(sb, scene)["title"]
    assert title.startswith("Harbor Nights / Blue Harbor Films: Café " + family)
    assert len(title) <= 255 and not title.endswith("\u200d")
    assert title.endswith(("Café", family, " ", "Caf", "Ca", "C"))  # cut between whole characters only

    # Short title: every placeholder, the group and its scene index in brackets.
    update_scene(sb, scene, title="Short ✨")
    assert sb.host.wait_idle(120)
    group = sb.stash.scene(scene)["groups"][0]
    assert plex_item_for(sb, scene)["title"] == (
        f"Harbor Nights / Blue Harbor Films: Short ✨ [{group['name']} #{group['scene_index']}]")


def test_changing_a_template_resends_with_sync_all_and_an_unchanged_library_costs_no_plex_request(sandbox):
    sb = sandbox
    scene = unambiguous(sb)[3]
    update_scene(sb, scene, title="Plain")
    assert sb.host.wait_idle(120)
    run_task(sb, "Sync all")          # everything synced once
    configure(sb, title_template="[{code}] {title}", content_rating="XXX")
    run_task(sb, "Sync all")
    item = plex_item_for(sb, scene)
    assert item["title"] == f"[{sb.stash.scene(scene)['code']}] Plain" and item["contentRating"] == "XXX"
    sb.plex.reset_requests()
    run_task(sb, "Sync all")
    assert sb.plex.request_count("PUT") == 0 and sb.plex.request_count("GET", "/library/metadata/") == 0
    assert "0 queued" in [t for t in plugin_texts(sb) if "Sync all:" in t][-1]


def test_tags_go_to_labels_or_both_and_genres_are_left_alone_when_not_chosen(sandbox):
    sb = sandbox
    scene = next(s for s in unambiguous(sb) if "Imported" in plex_item_for(sb, s)["genres"])
    night, travel = sb.world.tags["Night"], sb.world.tags["Travel"]
    configure(sb, tag_destination="labels")
    update_scene(sb, scene, tag_ids=[str(night), str(travel)])
    assert sb.host.wait_idle(120)
    item = plex_item_for(sb, scene)
    assert sorted(item["labels"]) == ["Night", "Travel"] and "label" in item["locked"]
    assert item["genres"] == ["Imported"]          # not managed: left as Plex had it

    configure(sb, tag_destination="both")
    update_scene(sb, scene, tag_ids=[str(night)])
    assert sb.host.wait_idle(120)
    item = plex_item_for(sb, scene)
    assert item["labels"] == ["Night"] and item["genres"] == ["Night"]


def test_excluded_tags_by_name_and_by_parent_never_reach_plex(sandbox):
    sb = sandbox
    workflow = sb.stash.add_tag("Workflow")
    to_review = sb.stash.add_tag("To review", parent_ids=[workflow])
    needs_trim = sb.stash.add_tag("Needs trim", parent_ids=[to_review])     # grandchild of Workflow
    drama, comedy = sb.world.tags["Drama"], sb.world.tags["Comedy"]
    configure(sb, exclude_tags="comedy", exclude_tags_under="Workflow", tag_destination="both")
    scene = unambiguous(sb)[2]
    update_scene(sb, scene, tag_ids=[str(t) for t in (drama, comedy, to_review, needs_trim, workflow)])
    assert sb.host.wait_idle(120)
    item = plex_item_for(sb, scene)
    assert item["genres"] == ["Drama"] and item["labels"] == ["Drama"]

    # Sync all agrees with the worker (same exclusions, parents read from Stash): once every scene has
    # been synced, nothing is re-sent.
    run_task(sb, "Sync all")
    sb.plex.reset_requests()
    run_task(sb, "Sync all")
    assert sb.plex.request_count("PUT") == 0 and sb.plex.request_count("GET", "/library/metadata/") == 0
    assert plex_item_for(sb, scene)["genres"] == ["Drama"]


def test_moving_a_tag_under_an_excluded_parent_removes_it_from_plex_with_that_save(sandbox):
    from tests.worker.helpers import gql
    sb = sandbox
    workflow = sb.stash.add_tag("Workflow")
    night, drama = sb.world.tags["Night"], sb.world.tags["Drama"]
    configure(sb, exclude_tags_under="Workflow")
    scene = unambiguous(sb)[4]
    update_scene(sb, scene, tag_ids=[str(night), str(drama)])
    assert sb.host.wait_idle(120)
    assert sorted(plex_item_for(sb, scene)["genres"]) == ["Drama", "Night"]

    # Stash fires Tag.Update.Post (no scene hook): PlexSync queues the scenes of the tag and its children.
    gql(sb, "mutation($input: TagUpdateInput!) { tagUpdate(input: $input) { id } }",
        {"input": {"id": str(night), "parent_ids": [str(workflow)]}})
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, scene)["genres"] == ["Drama"]


def test_renaming_a_parent_studio_shown_by_the_title_template_retitles_its_child_studios_scenes(sandbox):
    from tests.worker.helpers import gql
    sb = sandbox
    configure(sb, title_template="{parent_studio} - {title}")
    child, parent = sb.world.studios["Harbor Nights"], sb.world.studios["Blue Harbor Films"]
    scene = unambiguous(sb)[6]
    update_scene(sb, scene, title="Pier", studio_id=str(child))
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, scene)["title"] == "Blue Harbor Films - Pier"
    gql(sb, "mutation($input: StudioUpdateInput!) { studioUpdate(input: $input) { id } }",
        {"input": {"id": str(parent), "name": "Blue Harbour Group"}})
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, scene)["title"] == "Blue Harbour Group - Pier"
