"""Issue 12 end to end: managed Plex collections through the plugin host (hook -> Process queue), real plexapi
and stashapi against the simulated servers, which keep collections as PMS does."""
from __future__ import annotations


from tests.worker.helpers import configure, gql, png_data_url, run_task, unambiguous, update_scene

STUDIO_UPDATE = "mutation($input: StudioUpdateInput!) { studioUpdate(input: $input) { id } }"
GROUP_UPDATE = "mutation($input: GroupUpdateInput!) { groupUpdate(input: $input) { id } }"


def scenes_key(sb) -> int:
    return sb.world.sections["Scenes"]


def rk(sb, scene_id: int) -> int:
    return sb.world.scene_rating_keys[scene_id][0]


def titles(sb) -> dict[str, dict]:
    return {c["title"]: c for c in sb.plex.collections(scenes_key(sb))}


def three_scenes(sb) -> list[int]:
    """Scenes whose file is one item in the Scenes section (HIGH matches)."""
    return [s for s in unambiguous(sb) if len(sb.world.scene_rating_keys[s]) == 1][:3]


def test_studio_change_moves_the_item_removes_the_empty_managed_collection_and_leaves_hand_made_alone(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True)
    a, b = sb.world.studios["Northwind Pictures"], sb.world.studios["Red Fern Media"]
    s1, s2, _ = three_scenes(sb)
    mine = sb.plex.create_collection(scenes_key(sb), "My Favourites", [rk(sb, s1)])
    update_scene(sb, s1, studio_id=str(a))
    update_scene(sb, s2, studio_id=str(a))
    assert sb.host.wait_idle(120)
    north = titles(sb)["Northwind Pictures"]
    assert sorted(north["items"]) == sorted([rk(sb, s1), rk(sb, s2)])
    assert sorted(sb.plex.item(rk(sb, s1))["collections"]) == ["My Favourites", "Northwind Pictures"]

    update_scene(sb, s1, studio_id=str(b))
    assert sb.host.wait_idle(120)
    now = titles(sb)
    assert now["Northwind Pictures"]["items"] == [rk(sb, s2)]
    assert now["Red Fern Media"]["items"] == [rk(sb, s1)]
    assert sorted(sb.plex.item(rk(sb, s1))["collections"]) == ["My Favourites", "Red Fern Media"]

    update_scene(sb, s2, studio_id=str(b))
    assert sb.host.wait_idle(120)
    now = titles(sb)
    assert "Northwind Pictures" not in now  # managed and empty: removed
    assert sorted(now["Red Fern Media"]["items"]) == sorted([rk(sb, s1), rk(sb, s2)])
    assert now["My Favourites"]["rating_key"] == mine and now["My Favourites"]["items"] == [rk(sb, s1)]


def test_hand_made_collection_with_a_wanted_name_is_never_used(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True)
    s1, s2, _ = three_scenes(sb)
    studio = sb.world.studios["Studio Éclair"]
    hand = sb.plex.create_collection(scenes_key(sb), "Studio Éclair", [rk(sb, s2)])
    update_scene(sb, s1, studio_id=str(studio))
    assert sb.host.wait_idle(120)
    coll = titles(sb)["Studio Éclair"]
    assert coll["rating_key"] == hand and coll["items"] == [rk(sb, s2)]
    assert sb.plex.item(rk(sb, s1))["collections"] == []


def test_parent_studio_chain_and_prefix(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True, collections_from_parent_studios=True,
              collection_prefix_studio="Studio:")
    s1 = three_scenes(sb)[0]
    update_scene(sb, s1, studio_id=str(sb.world.studios["Harbor Nights"]))
    assert sb.host.wait_idle(120)
    assert sorted(sb.plex.item(rk(sb, s1))["collections"]) == ["Studio: Blue Harbor Films",
                                                               "Studio: Harbor Nights"]
    assert {"Studio: Blue Harbor Films", "Studio: Harbor Nights"} <= set(titles(sb))


def test_studio_rename_renames_the_collection_in_one_edit_and_keeps_its_rating_key(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True)
    s1, s2, _ = three_scenes(sb)
    studio = sb.world.studios["Northwind Pictures"]
    update_scene(sb, s1, studio_id=str(studio))
    update_scene(sb, s2, studio_id=str(studio))
    assert sb.host.wait_idle(120)
    before = titles(sb)["Northwind Pictures"]
    sb.plex.reset_requests()
    gql(sb, STUDIO_UPDATE, {"input": {"id": str(studio), "name": "Northwind Studios"}})
    assert sb.host.wait_idle(120)
    after = titles(sb)
    assert "Northwind Pictures" not in after
    assert after["Northwind Studios"]["rating_key"] == before["rating_key"]
    # the rename queued every scene of the studio (hooks/entities.py): all of them are in it now
    carrying = {rk(sb, s) for s in unambiguous(sb) if (sb.stash.scene(s)["studio"] or {}).get("id") == studio}
    assert set(after["Northwind Studios"]["items"]) == carrying >= set(before["items"])
    collection_edits = [r for r in sb.plex.requests if r["method"] == "PUT"
                        and r["query"].get("type") == "18"]
    assert len(collection_edits) == 1 and collection_edits[0]["query"]["title.value"] == "Northwind Studios"


def test_studio_image_and_details_become_the_collection_poster_and_summary_once(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True)
    s1, s2, s3 = three_scenes(sb)
    url, image = png_data_url((200, 20, 90))
    studio = sb.world.studios["Red Fern Media"]
    gql(sb, STUDIO_UPDATE, {"input": {"id": str(studio), "image": url, "details": "Ferns, mostly red."}})
    update_scene(sb, s1, studio_id=str(studio))
    assert sb.host.wait_idle(120)
    coll = titles(sb)["Red Fern Media"]
    assert coll["summary"] == "Ferns, mostly red."
    assert sb.plex.uploaded(coll["poster"]) == image
    posts = lambda: [r for r in sb.plex.requests  # noqa: E731
                     if r["method"] == "POST" and r["path"] == f"/library/metadata/{coll['rating_key']}/posters"]
    assert len(posts()) == 1
    update_scene(sb, s2, studio_id=str(studio))
    update_scene(sb, s3, studio_id=str(studio))
    assert sb.host.wait_idle(120)
    assert len(posts()) == 1  # same image: never uploaded twice
    assert len(titles(sb)["Red Fern Media"]["items"]) == 3


def test_group_front_image_synopsis_and_scene_index_order(sandbox):
    sb = sandbox
    configure(sb, collections_from_groups=True)
    group = sb.world.groups["Director's Cut"]
    url, image = png_data_url((5, 80, 160))
    gql(sb, GROUP_UPDATE, {"input": {"id": str(group), "front_image": url, "synopsis": "The long versions."}})
    s1, s2, s3 = three_scenes(sb)
    for scene, index in ((s1, 3), (s2, 1), (s3, 2)):
        update_scene(sb, scene, groups=[{"group_id": str(group), "scene_index": index}])
    assert sb.host.wait_idle(120)
    coll = titles(sb)["Director's Cut"]
    assert coll["items"] == [rk(sb, s2), rk(sb, s3), rk(sb, s1)]
    assert coll["collection_sort"] == 2
    assert coll["summary"] == "The long versions."
    assert sb.plex.uploaded(coll["poster"]) == image

    update_scene(sb, s1, groups=[{"group_id": str(group), "scene_index": 0}])
    assert sb.host.wait_idle(120)
    assert titles(sb)["Director's Cut"]["items"] == [rk(sb, s1), rk(sb, s2), rk(sb, s3)]


def test_edit_that_changes_nothing_about_collections_costs_no_extra_request(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True, collections_from_groups=True)
    s1 = three_scenes(sb)[0]
    update_scene(sb, s1, studio_id=str(sb.world.studios["Northwind Pictures"]),
                 groups=[{"group_id": str(sb.world.groups["Summer Series"]), "scene_index": 1}])
    assert sb.host.wait_idle(120)
    update_scene(sb, s1, title="First title change")  # the drain's own set-up requests happen here
    assert sb.host.wait_idle(120)
    sb.plex.reset_requests()
    update_scene(sb, s1, title="Only the title changed")
    assert sb.host.wait_idle(120)
    requests = sb.plex.requests
    assert not [r for r in requests if r["query"].get("type") == "18" or "/children" in r["path"]
                or "/prefs" in r["path"] or "/move" in r["path"] or "/posters" in r["path"]]
    assert [r["path"] for r in requests if r["method"] != "GET"] == [f"/library/sections/{scenes_key(sb)}/all"]
    assert sorted(sb.plex.item(rk(sb, s1))["collections"]) == ["Northwind Pictures", "Summer Series"]


def expected_from_stash(sb, names: set[str]) -> dict[str, set[int]]:
    """What Stash says: studio and group collections of every scene that syncs (HIGH matches)."""
    out: dict[str, set[int]] = {n: set() for n in names}
    for sid in unambiguous(sb):
        scene = sb.stash.scene(sid)
        wanted = [scene["studio"]["name"]] if scene["studio"] else []
        wanted += [g["name"] for g in scene["groups"]]
        for name in wanted:
            out.setdefault(name, set()).add(rk(sb, sid))
    return out


def test_rebuild_collections_restores_stash_view_after_drift(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True, collections_from_groups=True)
    run_task(sb, "Sync all")
    assert sb.host.wait_idle(180)
    before = titles(sb)
    expected = expected_from_stash(sb, set())
    assert {name: set(c["items"]) for name, c in before.items()} == expected

    stray = sb.world.plex_only[0]
    sb.plex.edit_item(stray, collections=["Northwind Pictures"])       # an item added by hand
    sb.plex.delete_collection(before["Summer Series"]["rating_key"])   # a managed collection deleted by hand
    sb.plex.reset_requests()

    configure(sb, dry_run=True)
    result = run_task(sb, "Rebuild collections")
    assert sb.host.wait_idle(180)
    drifted = titles(sb)
    assert "Summer Series" not in drifted and stray in drifted["Northwind Pictures"]["items"]
    assert not [r for r in sb.plex.requests if r["method"] != "GET"]  # dry run: nothing written

    configure(sb, dry_run=False)
    run_task(sb, "Rebuild collections")
    assert sb.host.wait_idle(180)
    after = titles(sb)
    assert {name: set(c["items"]) for name, c in after.items()} == expected
    summer = sb.stash.scene  # order: by scene_index in the group
    members = [(g["scene_index"], sid) for sid in unambiguous(sb) for g in summer(sid)["groups"]
               if g["name"] == "Summer Series"]
    assert after["Summer Series"]["items"] == [rk(sb, sid) for _, sid in sorted(members)]
    assert after["Summer Series"]["collection_sort"] == 2
    assert result is not None


def test_switching_every_source_off_empties_and_removes_the_managed_collections(sandbox):
    sb = sandbox
    configure(sb, collections_from_studio=True, collection_organized=True)
    s1 = three_scenes(sb)[0]
    mine = sb.plex.create_collection(scenes_key(sb), "Keep Me", [rk(sb, s1)])
    update_scene(sb, s1, organized=True, studio_id=str(sb.world.studios["Red Fern Media"]))
    assert sb.host.wait_idle(120)
    assert {"Organized", "Red Fern Media", "Keep Me"} <= set(titles(sb))
    configure(sb, collections_from_studio=False, collection_organized=False)
    run_task(sb, "Sync all")
    assert sb.host.wait_idle(120)
    assert list(titles(sb)) == ["Keep Me"] and titles(sb)["Keep Me"]["rating_key"] == mine
    assert sb.plex.item(rk(sb, s1))["collections"] == ["Keep Me"]


def test_an_install_that_synced_before_adopts_the_studio_collections_it_made(sandbox):
    """Before issue 12, collections_from_studio wrote the studio as a collection tag and remembered nothing:
    after the upgrade (schema 1 -> 2 on a database with sync state) those collections stay PlexSync's."""
    from tests.worker.helpers import db
    sb = sandbox
    s1, s2, _ = three_scenes(sb)
    studio = sb.world.studios["Northwind Pictures"]
    update_scene(sb, s1, studio_id=str(studio))
    update_scene(sb, s2, studio_id=str(studio))
    assert sb.host.wait_idle(120)
    for scene in (s1, s2):  # what the earlier version left in Plex
        sb.plex.edit_item(rk(sb, scene), collections=["Northwind Pictures"])
    conn = db(sb)
    with conn:
        conn.execute("INSERT OR REPLACE INTO state(key, value) VALUES ('collections_legacy', '1')")
    conn.close()
    old = titles(sb)["Northwind Pictures"]["rating_key"]
    configure(sb, collections_from_studio=True)
    run_task(sb, "Sync all")
    assert sb.host.wait_idle(120)
    update_scene(sb, s1, studio_id=str(sb.world.studios["Red Fern Media"]))
    update_scene(sb, s2, studio_id=str(sb.world.studios["Red Fern Media"]))
    assert sb.host.wait_idle(120)
    now = titles(sb)
    carrying = {rk(sb, s) for s in unambiguous(sb) if (sb.stash.scene(s)["studio"] or {}).get("id") == studio}
    if carrying:
        assert now["Northwind Pictures"]["rating_key"] == old and set(now["Northwind Pictures"]["items"]) == carrying
    else:
        assert "Northwind Pictures" not in now  # adopted, then emptied: removed like any managed one


def test_a_save_that_only_marks_a_scene_organized_puts_it_in_the_organized_collection(sandbox):
    sb = sandbox
    configure(sb, collection_organized=True)
    scene = three_scenes(sb)[0]
    update_scene(sb, scene, organized=False, title="Not organized yet")
    assert sb.host.wait_idle(120)
    assert "Organized" not in sb.plex.item(rk(sb, scene))["collections"]
    update_scene(sb, scene, organized=True)  # the hook's input holds only `organized`
    assert sb.host.wait_idle(120)
    assert "Organized" in sb.plex.item(rk(sb, scene))["collections"]
    update_scene(sb, scene, organized=False)
    assert sb.host.wait_idle(120)
    assert "Organized" not in sb.plex.item(rk(sb, scene))["collections"]
