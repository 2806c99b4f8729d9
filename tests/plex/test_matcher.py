"""Matcher against a running PlexSim (real plexapi); matching itself must send no Plex request."""
import pytest

from plex import client
from plex.index import PathIndex
from plex.matcher import Confidence, Matcher, find_plex_items_with_confidence
from plex.pin import item_url
from tests.plex.conftest import make_settings


@pytest.fixture(scope="module")
def world(sim):
    scenes = sim.add_section("Scenes", ["/media/scenes"])
    archive = sim.add_section("Archive", ["/media/archive"])
    ids = {
        "one": sim.add_item(scenes, "one", ["/media/scenes/S/one.mp4"]),
        "dup_a": sim.add_item(scenes, "dup a", ["/media/scenes/S/dup.mp4"]),
        "dup_b": sim.add_item(archive, "dup b", ["/media/scenes/S/dup.mp4"]),
        "name_a": sim.add_item(scenes, "name a", ["/media/scenes/X/only-name.mp4"]),
        "name_b": sim.add_item(archive, "name b", ["/media/archive/Y/only-name.mp4"]),
        "multi": sim.add_item(scenes, "multi", ["/media/scenes/M/cd1.mp4", "/media/scenes/M/cd2.mp4"]),
        "other": sim.add_item(archive, "other", ["/media/archive/other.mp4"]),
    }
    settings = make_settings(sim)
    plex = client.connect(settings)
    sections = client.movie_sections(plex, ["Scenes", "Archive"])
    return {"plex": plex, "sections": sections, "settings": settings, "scenes": scenes, "archive": archive,
            **ids}


@pytest.fixture()
def clock():
    return [10_000.0]


@pytest.fixture()
def matcher(world, conn, clock):
    idx = PathIndex(conn, world["plex"], world["sections"], world["settings"].path_map, rebuild_interval=300,
                    clock=lambda: clock[0])
    idx.ensure_fresh()
    return Matcher(world["plex"], idx, world["settings"])


def scene(*paths, urls=()):
    return {"id": "1", "files": [{"path": p} for p in paths], "urls": list(urls)}


def test_high_through_path_map_with_no_requests(sim, world, matcher):
    sim.reset_requests()
    r = matcher.match_scene(scene("/data/scenes/S/one.mp4"))
    assert r.confidence is Confidence.HIGH and r.rating_key == world["one"] and not r.pinned
    assert r.item.plex_path == "/media/scenes/S/one.mp4"
    assert sim.request_count() == 0


def test_low_when_file_is_in_two_sections(world, matcher):
    r = matcher.match_scene(scene("/data/scenes/S/dup.mp4"))
    assert r.confidence is Confidence.LOW
    assert [c.rating_key for c in r.candidates] == [world["dup_a"], world["dup_b"]]
    assert r.rating_key == world["dup_a"]  # best candidate: first configured section
    assert not r.basename_only


def test_low_basename_only(world, matcher):
    r = matcher.match_scene(scene("/data/elsewhere/only-name.mp4"))
    assert r.confidence is Confidence.LOW and r.basename_only
    assert {c.rating_key for c in r.candidates} == {world["name_a"], world["name_b"]}


def test_two_files_same_item_is_high_two_items_is_low(world, matcher):
    r = matcher.match_scene(scene("/data/scenes/M/cd1.mp4", "/data/scenes/M/cd2.mp4"))
    assert r.confidence is Confidence.HIGH and r.rating_key == world["multi"] and len(r.candidates) == 1
    r2 = matcher.match_scene(scene("/data/scenes/S/one.mp4", "/data/scenes/M/cd1.mp4"))
    assert r2.confidence is Confidence.LOW and len(r2.candidates) == 2


def test_no_file_is_none(matcher):
    r = matcher.match_scene(scene())
    assert r.confidence is Confidence.NONE and r.rating_key is None


def test_miss_asks_plex_only_for_recent_items_and_rebuilds_on_schedule(sim, world, matcher, clock):
    sim.reset_requests()
    r = matcher.match_scene(scene("/data/scenes/new/late.mp4"))
    assert r.confidence is Confidence.NONE and not r.rebuilt  # the index looked at Plex moments ago
    assert sim.request_count() == 0

    late = sim.add_item(world["scenes"], "late", ["/media/scenes/new/late.mp4"])
    clock[0] += 301
    r = matcher.match_scene(scene("/data/scenes/new/late.mp4"))
    assert r.confidence is Confidence.HIGH and r.rating_key == late and r.rebuilt
    rebuild_requests = sim.request_count()
    assert rebuild_requests == 2  # the full schedule (300 s here): one page per section

    later = sim.add_item(world["scenes"], "later", ["/media/scenes/new/later.mp4"])
    clock[0] += 15
    r = matcher.match_scene(scene("/data/scenes/new/later.mp4"))
    assert r.confidence is Confidence.HIGH and r.rating_key == later and r.rebuilt
    looks = sim.requests[rebuild_requests:]
    # Per section, one listing of what was added or updated since the last look.
    assert len(looks) == 2
    assert all({"addedAt>>", "updatedAt>>", "push", "or", "pop"} <= set(e["query"]) for e in looks)

    clock[0] += 1  # a second miss right after a look reuses it
    assert matcher.match_scene(scene("/data/scenes/new/never.mp4")).confidence is Confidence.NONE
    assert sim.request_count() == rebuild_requests + 2
    matcher.index.force_next_look = True  # ... unless the user pressed Process queue
    assert matcher.match_scene(scene("/data/scenes/new/never.mp4")).confidence is Confidence.NONE
    assert sim.request_count() == rebuild_requests + 4


def test_pin_wins(sim, world, matcher):
    pin = item_url(world["plex"].machineIdentifier, world["other"])
    r = matcher.match_scene(scene("/data/scenes/S/dup.mp4", urls=["https://example.com/x", pin]))
    assert r.confidence is Confidence.HIGH and r.pinned and r.rating_key == world["other"]
    foreign = item_url("f" * 40, world["other"])
    r2 = matcher.match_scene(scene("/data/scenes/S/one.mp4", urls=[foreign]))
    assert not r2.pinned and r2.rating_key == world["one"]


def test_remembered_rating_key_checked_against_index(world, matcher):
    r = matcher.match_scene(scene("/data/scenes/S/one.mp4"), remembered_rating_key=world["one"])
    assert r.confidence is Confidence.HIGH and r.remembered and r.rating_key == world["one"]
    # Remembered, but another item holds the same file now: ambiguous again, reviewed again.
    dup = matcher.match_scene(scene("/data/scenes/S/dup.mp4"), remembered_rating_key=world["dup_b"])
    assert dup.confidence is Confidence.LOW and not dup.remembered
    # A remembered key that no longer holds the scene's file is not trusted.
    r2 = matcher.match_scene(scene("/data/scenes/S/one.mp4"), remembered_rating_key=world["other"])
    assert not r2.remembered and r2.rating_key == world["one"]


def test_plan_function_restricts_to_section(sim, world, matcher):
    [scenes, archive] = world["sections"]
    conf, item, cands = find_plex_items_with_confidence(scenes, "/data/scenes/S/dup.mp4", matcher=matcher)
    assert conf is Confidence.HIGH and item.rating_key == world["dup_a"] and len(cands) == 1
    conf, item, cands = find_plex_items_with_confidence(archive, "/data/scenes/S/one.mp4", matcher=matcher)
    assert conf is Confidence.NONE and item is None and cands == []
    sim.reset_requests()
    conf, item, _ = find_plex_items_with_confidence(archive, "/data/scenes/S/dup.mp4", matcher=matcher, fetch=True)
    assert conf is Confidence.HIGH and item.ratingKey == world["dup_b"] and item.title == "dup b"
    assert sim.request_count() == 1
