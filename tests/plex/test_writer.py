"""Writer against a running PlexSim through the real plexapi; request counts from the sim's log."""
import hashlib

import pytest

from plex import client
from plex.writer import apply_edit, describe_plan, fetch_item, plan_edit, upload_poster
from tests.plex.conftest import make_settings
from validation.metadata import desired_plex_fields

SCENE = {
    "id": "1", "title": "New Title", "details": "Line 1\nLine 2 ü — “q” 👩‍👩‍👧", "date": "2019-07",
    "studio": {"name": "S & P + Co"}, "code": "CODE-1", "director": "Dir One",
    "performers": [{"name": "Keep Me"}, {"name": "Added Actor"}],
    "tags": [{"name": "Keep"}, {"name": "Sci-Fi & Fantasy"}, {"name": "a,b"}],
    "rating100": 70, "files": [{"path": "/data/w/x.mp4"}], "urls": [],
}


@pytest.fixture(scope="module")
def world(sim):
    section = sim.add_section("Writer", ["/media/w"])
    settings = make_settings(sim)
    plex = client.connect(settings)
    client.movie_sections(plex, [])  # sections load once per PlexServer, before any edit
    return {"plex": plex, "section": section, "settings": settings}


def new_item(sim, world, **fields):
    defaults = dict(summary="old summary", studio="Old Studio", genres=["Keep", "G2", "G3", "G4"],
                    actors=["Keep Me", "Old Actor", "A3", "A4"], directors=["Old Dir"])
    defaults.update(fields)
    return sim.add_item(world["section"], "Old Title", [f"/media/w/{len(sim.items())}.mp4"], **defaults)


def sync(sim, world, rk, scene, settings=None, cover=None):
    settings = settings or world["settings"]
    sim.reset_requests()
    item = fetch_item(world["plex"], rk)
    plan = plan_edit(item, desired_plex_fields(scene, settings), settings, poster_changed=cover is not None)
    sent = apply_edit(item, plan)
    if cover is not None:
        sent += upload_poster(item, cover)
    return plan, sent


def test_edit_everything_in_one_put_with_locks(sim, world):
    rk = new_item(sim, world)
    cover = b"\x89PNG\r\n\x1a\nfake-cover"
    plan, sent = sync(sim, world, rk, SCENE, cover=cover)
    assert sent == 2
    assert [(r["method"], r["path"]) for r in sim.requests] == [
        ("GET", f"/library/metadata/{rk}"), ("PUT", f"/library/sections/{world['section']}/all"),
        ("POST", f"/library/metadata/{rk}/posters")]
    snap = sim.item(rk)
    assert snap["title"] == "New Title" and snap["titleSort"] == "New Title"
    assert snap["summary"] == SCENE["details"]
    assert snap["studio"] == "S & P + Co" and snap["tagline"] == "CODE-1"
    assert snap["originallyAvailableAt"] == "2019-07-01" and snap["year"] == 2019
    assert snap["userRating"] == 7.0
    assert sorted(snap["genres"]) == sorted(["Keep", "Sci-Fi & Fantasy", "a,b"])
    assert sorted(snap["actors"]) == ["Added Actor", "Keep Me"]
    assert snap["directors"] == ["Dir One"]
    assert snap["poster_sha1"] == hashlib.sha1(cover).hexdigest()

    item = world["plex"].fetchItem(rk)
    item.reload()
    for name in ("title", "titleSort", "summary", "studio", "tagline", "originallyAvailableAt", "year",
                 "genre", "actor", "director", "thumb"):
        assert item.isLocked(name), name
    assert "\n" not in describe_plan(plan) and "title" in describe_plan(plan)

    # Nothing differs now: no PUT at all, only the fetch.
    plan2, sent2 = sync(sim, world, rk, SCENE)
    assert plan2.empty and sent2 == 0
    assert sim.request_count() == 1


def test_removals_to_empty_lists(sim, world):
    rk = new_item(sim, world)
    scene = dict(SCENE, performers=[], tags=[], director="", studio=None, details="")
    plan, sent = sync(sim, world, rk, scene)
    assert sent == 1
    put = [r for r in sim.requests if r["method"] == "PUT"][0]["query"]
    assert "genre[].tag.tag-" in put and not any(k.startswith("genre[0]") for k in put)
    snap = sim.item(rk)
    assert snap["genres"] == [] and snap["actors"] == [] and snap["directors"] == []
    assert snap["studio"] in ("", None) and snap["summary"] in ("", None)
    assert {"genre", "actor", "director", "studio", "summary"} <= snap["locked"]


def test_removal_of_one_tag_and_one_performer(sim, world):
    rk = new_item(sim, world, genres=["Keep", "Gone"], actors=["Keep Me", "Gone Actor"])
    scene = dict(SCENE, tags=[{"name": "Keep"}], performers=[{"name": "Keep Me"}])
    sync(sim, world, rk, scene)
    snap = sim.item(rk)
    assert snap["genres"] == ["Keep"] and snap["actors"] == ["Keep Me"]


def test_order_change_is_not_a_difference(sim, world):
    rk = new_item(sim, world)
    sync(sim, world, rk, SCENE)
    reordered = dict(SCENE, tags=list(reversed(SCENE["tags"])))
    plan, sent = sync(sim, world, rk, reordered)
    assert plan.empty and sent == 0


def test_preserve_plex_edits_fills_only_empty_fields(sim, world):
    rk = new_item(sim, world, summary="", tagline="", genres=[], actors=["Plex Actor"], studio="Plex Studio")
    settings = make_settings(sim, preserve_plex_edits=True)
    sync(sim, world, rk, SCENE, settings=settings)
    snap = sim.item(rk)
    assert snap["title"] == "Old Title" and snap["studio"] == "Plex Studio"
    assert snap["actors"] == ["Plex Actor"]
    assert snap["summary"] == SCENE["details"] and snap["tagline"] == "CODE-1"
    assert sorted(snap["genres"]) == sorted(t["name"] for t in SCENE["tags"])
    assert "title" not in snap["locked"] and "studio" not in snap["locked"]


def test_unicode_and_long_details_round_trip(sim, world):
    rk = new_item(sim, world)
    details = ("Zeile ü\n\tTab — “quoted” 👩‍👩‍👧 🏳️‍🌈 \r\n" * 400)[:10_000]
    scene = dict(SCENE, details=details, title="Título 😀 ‘x’")
    sync(sim, world, rk, scene)
    item = fetch_item(world["plex"], rk)
    assert item.summary == details and len(item.summary) == 10_000
    assert item.title == "Título 😀 ‘x’"
    plan = plan_edit(item, desired_plex_fields(scene, world["settings"]), world["settings"])
    assert plan.empty


def test_field_toggles_limit_the_edit(sim, world):
    rk = new_item(sim, world)
    settings = make_settings(sim, sync_tags=False, sync_performers=False, sync_details=False)
    plan, _ = sync(sim, world, rk, SCENE, settings=settings)
    put = [r for r in sim.requests if r["method"] == "PUT"][0]["query"]
    assert not any(k.startswith(("genre", "actor", "summary")) for k in put)
    snap = sim.item(rk)
    assert snap["summary"] == "old summary" and "G2" in snap["genres"] and snap["title"] == "New Title"


def test_oversized_summary_is_shortened_to_fit_the_request_line():
    from plex.writer import MAX_QUERY_BYTES, EditPlan, describe_plan, fit_query, query_bytes
    plan = EditPlan(1, 1, params={"summary.value": "é👩‍👩‍👧" * 20_000, "summary.locked": 1, "title.value": "t"})
    fit_query(plan)
    assert query_bytes(plan.params) <= MAX_QUERY_BYTES
    assert plan.shortened_summary and plan.params["summary.value"] == ("é👩‍👩‍👧" * 20_000)[:plan.shortened_summary]
    assert "shortened" in describe_plan(plan)
    small = EditPlan(1, 1, params={"summary.value": "x" * 10_000})
    fit_query(small)
    assert small.shortened_summary is None and len(small.params["summary.value"]) == 10_000
