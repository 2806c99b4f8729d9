"""Issue 5: Performer/Studio/Tag/Group .Update.Post hooks queue the scenes of a renamed object, and
Scene.Destroy.Post forgets a deleted scene, as Stash fires them (real plugin processes, sandbox host)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.worker.helpers import configure, db, gql, plex_item_for, run_task, unambiguous

MUTATIONS = {
    "performer": "mutation($input: PerformerUpdateInput!) { performerUpdate(input: $input) { id } }",
    "studio": "mutation($input: StudioUpdateInput!) { studioUpdate(input: $input) { id } }",
    "tag": "mutation($input: TagUpdateInput!) { tagUpdate(input: $input) { id } }",
    "group": "mutation($input: GroupUpdateInput!) { groupUpdate(input: $input) { id } }",
}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def hook_results(sb, trigger: str) -> list[str]:
    return [t for _lvl, t in sb.host.log_snapshot() if t.startswith(f"{trigger} [PlexSync]")]


def edit(sb, kind: str, object_id: int, **fields) -> None:
    gql(sb, MUTATIONS[kind], {"input": dict(id=str(object_id), **fields)})
    assert sb.host.wait_idle(120)


def synced_rating_keys(sb, scene_ids) -> set[int]:
    conn = db(sb)
    try:
        rows = conn.execute("SELECT scene_id, rating_key FROM sync_state").fetchall()
    finally:
        conn.close()
    wanted = set(scene_ids)
    return {rk for sid, rk in rows if sid in wanted}


def edited_rating_keys(sb) -> set[int]:
    """Items that received an edit (plexapi sends PUT /library/sections/<id>/all?id=<ratingKey>&type=1)."""
    return {int(r["query"]["id"]) for r in sb.plex.requests
            if r["method"] == "PUT" and r["path"].endswith("/all") and "id" in r["query"]}


def test_performer_rename_resyncs_exactly_that_performers_scenes(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")
    performer = sb.world.performers["Marco Bellini"]
    carrying = [sid for sid in sb.world.scene_ids
                if any(p["id"] == performer for p in sb.stash.scene(sid)["performers"])]
    expected_keys = synced_rating_keys(sb, carrying)
    assert expected_keys
    before = {i["rating_key"]: i for i in sb.plex.items()}
    sb.plex.reset_requests()

    edit(sb, "performer", performer, name="Marco B. Bellini")

    assert hook_results(sb, "Performer.Update.Post")[-1].endswith(
        f"returned: {len(carrying)} scene(s) recorded; drain requested")
    assert edited_rating_keys(sb) == expected_keys
    for rk, item in ((i["rating_key"], i) for i in sb.plex.items()):
        if rk in expected_keys:
            assert "Marco B. Bellini" in item["actors"] and "Marco Bellini" not in item["actors"]
            others = {k: v for k, v in item.items() if k not in ("actors", "updated_at")}
            assert others == {k: v for k, v in before[rk].items() if k not in ("actors", "updated_at")}
        else:
            assert item == before[rk], rk


def test_a_save_that_sends_the_same_name_or_no_name_queues_nothing(sandbox):
    sb = sandbox
    performer = sb.world.performers["Ruby Chen"]
    edit(sb, "performer", performer, name="Ruby C.")  # first rename: queued
    assert "scene(s) recorded; drain" in hook_results(sb, "Performer.Update.Post")[-1]
    assert sb.host.wait_idle(120)
    jobs_before = len(sb.host.job_queue())
    sb.plex.reset_requests()

    # The edit form sends every field again: same name, new details.
    edit(sb, "performer", performer, name="Ruby C.", details="New biography")
    assert hook_results(sb, "Performer.Update.Post")[-1].endswith("returned: 0 scene(s) recorded")
    edit(sb, "performer", performer, favorite=True)  # a single-purpose control: no name sent
    assert hook_results(sb, "Performer.Update.Post")[-1].endswith("returned: 0 scene(s) recorded")
    assert len(sb.host.job_queue()) == jobs_before  # no drain requested
    assert sb.plex.request_count() == 0


@pytest.mark.parametrize("kind", ["tag", "studio"])
def test_tag_and_studio_renames_reach_plex(sandbox, kind):
    sb = sandbox
    run_task(sb, "Sync all")
    if kind == "tag":
        object_id = sb.world.tags["Drama"]
        carrying = [s for s in unambiguous(sb) if any(t["id"] == object_id for t in sb.stash.scene(s)["tags"])]
    else:
        object_id = sb.world.studios["Harbor Nights"]
        carrying = [s for s in unambiguous(sb) if (sb.stash.scene(s)["studio"] or {}).get("id") == object_id]
    assert carrying
    edit(sb, kind, object_id, name="Renamed " + kind)
    for sid in unambiguous(sb):
        item = plex_item_for(sb, sid)
        shows = ("Renamed tag" in item["genres"]) if kind == "tag" else (item["studio"] == "Renamed studio")
        assert shows == (sid in carrying), sid


def test_studio_rename_does_not_queue_scenes_of_child_studios(sandbox):
    sb = sandbox
    parent = sb.world.studios["Blue Harbor Films"]
    direct = [s for s in sb.world.scene_ids if (sb.stash.scene(s)["studio"] or {}).get("id") == parent]
    edit(sb, "studio", parent, name="Blue Harbour")
    assert hook_results(sb, "Studio.Update.Post")[-1].endswith(f"returned: {len(direct)} scene(s) recorded; "
                                                               f"drain requested")


def test_group_rename_queues_only_when_groups_become_collections(sandbox):
    sb = sandbox
    group = sb.world.groups["Summer Series"]
    members = [s for s in sb.world.scene_ids if any(g["id"] == group
                                                    for g in sb.stash.scene(s).get("groups") or [])]
    assert members
    edit(sb, "group", group, name="Summer Series I")
    assert hook_results(sb, "Group.Update.Post")[-1].endswith("returned: 0 scene(s) recorded")

    configure(sb, collections_from_groups=True)
    run_task(sb, "Sync all")  # the setting changed the wanted collections: Sync all notices (hash differs)
    edit(sb, "group", group, name="Summer Series II")
    assert hook_results(sb, "Group.Update.Post")[-1].endswith(f"returned: {len(members)} scene(s) recorded; "
                                                              f"drain requested")
    for sid in set(members) & set(unambiguous(sb)):
        assert plex_item_for(sb, sid)["collections"] == ["Summer Series II"]


def test_scene_destroy_forgets_its_sync_state(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")
    scene = unambiguous(sb)[3]
    clash = sb.world.clash_both_sections
    conn = db(sb)
    try:
        assert conn.execute("SELECT 1 FROM sync_state WHERE scene_id = ?", (scene,)).fetchone()
        assert conn.execute("SELECT 1 FROM reviews WHERE scene_id = ?", (clash,)).fetchone()
    finally:
        conn.close()
    for sid in (scene, clash):
        gql(sb, 'mutation($id: ID!) { sceneDestroy(input: {id: $id}) }', {"id": str(sid)})
    assert sb.host.wait_idle(60)
    assert hook_results(sb, "Scene.Destroy.Post")[-1].endswith(f"scene {clash} deleted: sync state forgotten")
    conn = db(sb)
    try:
        for table in ("sync_state", "reviews", "pending", "dead_letters"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE scene_id IN (?, ?)",
                                (scene, clash)).fetchone()[0] == 0, table
    finally:
        conn.close()
    # Sync all afterwards neither lists nor queues the deleted scenes.
    run_task(sb, "Sync all")
    line = [t for _l, t in sb.host.log_snapshot() if "Sync all:" in t][-1]
    assert "18 scene(s) checked, 0 queued" in line


def test_entity_hook_module_imports_only_the_standard_library():
    code = ("import sys; import hooks.entities, hooks.drain_trigger; "
            "heavy = [m for m in ('plexapi', 'requests', 'urllib3', 'stashapi', 'persistqueue') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
