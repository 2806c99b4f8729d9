"""Collections in the simulated Plex, driven by plexapi's own Collection methods over real HTTP: every
request PlexSync sends for collections is one of these (plex/collections.py)."""
from __future__ import annotations


import pytest
from plexapi.collection import Collection
from plexapi.server import PlexServer

from sandbox.plex import PlexSim

from tests.sandbox.conftest import TOKEN  # the `sim` fixture is there too


@pytest.fixture
def section(sim: PlexSim) -> int:
    key = sim.add_section("Scenes", ["/media/scenes"])
    for n, date in enumerate(("2021-01-01", "2019-01-01", "2020-01-01"), 1):
        sim.add_item(key, f"Item {n}", [f"/media/scenes/{n}.mp4"], originallyAvailableAt=date)
    return key


def server(sim: PlexSim) -> PlexServer:
    return PlexServer(sim.url, TOKEN, timeout=10)


def keys(sim: PlexSim) -> list[int]:
    return sorted(i["rating_key"] for i in sim.items())


def test_a_collection_tag_creates_a_type_18_object_listed_by_section_collections(sim: PlexSim, section: int):
    plex = server(sim)
    a, b, _ = keys(sim)
    for rk in (a, b):
        plex.fetchItem(rk).edit(**{"collection[0].tag.tag": "Harbor", "collection.locked": 1})
    colls = plex.library.sectionByID(section).collections()
    assert [c.title for c in colls] == ["Harbor"]
    coll = colls[0]
    assert isinstance(coll, Collection) and coll.childCount == 2 and coll.smart is False
    assert coll.ratingKey not in (a, b) and coll.subtype == "movie"
    assert sorted(i.ratingKey for i in coll.items()) == [a, b]
    # release order by default (collectionSort 0): b (2019) before a (2021)
    assert [i.ratingKey for i in coll.items()] == [b, a]


def test_last_item_leaving_keeps_an_empty_collection_until_deleted(sim: PlexSim, section: int):
    plex = server(sim)
    a = keys(sim)[0]
    item = plex.fetchItem(a)
    item.edit(**{"collection[0].tag.tag": "Solo"})
    item.edit(**{"collection[].tag.tag-": "Solo"})
    coll = plex.library.sectionByID(section).collection("Solo")
    assert coll.childCount == 0  # PMS does not delete an emptied collection by itself
    coll.delete()
    assert sim.collections(section) == []


def test_title_summary_edit_renames_members_tags_and_keeps_rating_key(sim: PlexSim, section: int):
    plex = server(sim)
    a, b, _ = keys(sim)
    plex.fetchItem(a).edit(**{"collection[0].tag.tag": "Old"})
    coll = plex.library.sectionByID(section).collection("Old")
    coll.editTitle("New").editSummary("About it")
    snap = sim.collection(section, "New")
    assert snap["rating_key"] == coll.ratingKey and snap["summary"] == "About it"
    assert {"title", "summary"} <= snap["locked"]
    assert sim.item(a)["collections"] == ["New"]
    reloaded = plex.fetchItem(coll.ratingKey)
    assert reloaded.title == "New" and reloaded.isLocked("title")


def test_custom_sort_and_move_item(sim: PlexSim, section: int):
    plex = server(sim)
    a, b, c = keys(sim)
    for rk in (a, b, c):
        plex.fetchItem(rk).edit(**{"collection[0].tag.tag": "Ordered"})
    coll = plex.library.sectionByID(section).collection("Ordered")
    coll.sortUpdate("custom")  # plexapi reads ?includePreferences=1, then PUT /prefs?collectionSort=2
    assert plex.fetchItem(coll.ratingKey).collectionSort == 2
    assert [i.ratingKey for i in coll.items()] == [a, b, c]  # custom: the order they joined
    coll.moveItem(plex.fetchItem(c))                         # no `after`: to the front
    coll.moveItem(plex.fetchItem(a), after=plex.fetchItem(b))
    assert sim.collection(section, "Ordered")["items"] == [c, b, a]


def test_poster_and_art_upload_on_a_collection(sim: PlexSim, section: int):
    plex = server(sim)
    plex.fetchItem(keys(sim)[0]).edit(**{"collection[0].tag.tag": "Art"})
    coll = plex.library.sectionByID(section).collection("Art")
    coll.uploadPoster(filepath=b"poster-bytes")
    coll.uploadArt(filepath=b"art-bytes")
    snap = sim.collection(section, "Art")
    assert sim.uploaded(snap["poster"]) == b"poster-bytes" and sim.uploaded(snap["art"]) == b"art-bytes"
    assert {"thumb", "art"} <= snap["locked"]
    assert plex.fetchItem(coll.ratingKey).thumb


def test_deleting_a_collection_removes_the_tag_from_its_items(sim: PlexSim, section: int):
    plex = server(sim)
    a, b, _ = keys(sim)
    plex.fetchItem(a).edit(**{"collection[0].tag.tag": "Gone", "collection[1].tag.tag": "Kept"})
    plex.library.sectionByID(section).collection("Gone").delete()
    assert sim.item(a)["collections"] == ["Kept"]
