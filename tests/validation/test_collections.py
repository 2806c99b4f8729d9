"""Which collections a Stash scene belongs in (validation/collections.py), one per source setting."""
from __future__ import annotations

from plex.collections import moves_for
from validation.collections import DEFAULT_PERFORMER_MIN_SCENES, wanted_collections
from validation.config import Settings, load_settings

SCENE = {
    "organized": True,
    "studio": {"id": "3", "name": "Harbor Nights", "details": "Late shows.",
               "image_path": "http://s/studio/3/image?t=5",
               "parent_studio": {"id": "2", "name": "Blue Harbor Films", "details": None,
                                 "image_path": "http://s/studio/2/image?t=4&default=true", "parent_studio": None}},
    "groups": [{"scene_index": 4, "group": {"id": "8", "name": "Summer Series", "synopsis": "Sun.",
                                            "front_image_path": "http://s/group/8/frontimage?t=1"}}],
    "performers": [{"id": "1", "name": "Ava", "scene_count": 12}, {"id": "2", "name": "Once", "scene_count": 1}],
    "tags": [{"id": "5", "name": "Outdoor"}, {"id": "6", "name": "Night"}],
}


def names(settings: Settings) -> list[str]:
    return [w.name for w in wanted_collections(SCENE, settings)]


def test_each_source_is_its_own_setting_and_off_by_default():
    assert names(Settings()) == []
    assert names(Settings(collections_from_studio=True)) == ["Harbor Nights"]
    assert names(Settings(collections_from_parent_studios=True)) == ["Blue Harbor Films"]
    assert names(Settings(collections_from_groups=True)) == ["Summer Series"]
    assert names(Settings(collections_from_performers=True)) == ["Ava"]  # "Once" has too few scenes
    assert names(Settings(collections_from_tags="night, Missing")) == ["Night"]
    assert names(Settings(collection_organized=True)) == ["Organized"]


def test_prefixes_minimum_and_details():
    settings = Settings(collections_from_studio=True, collections_from_parent_studios=True,
                        collections_from_performers=True, collection_performer_min_scenes=1,
                        collection_prefix_studio="Studio:", collection_prefix_performer="Performer:")
    assert names(settings) == ["Studio: Harbor Nights", "Studio: Blue Harbor Films", "Performer: Ava",
                               "Performer: Once"]
    studio, parent = wanted_collections(SCENE, settings)[:2]
    assert (studio.source, studio.summary, studio.image_url) == ("studio:3", "Late shows.",
                                                                 "http://s/studio/3/image?t=5")
    assert parent.image_url is None  # Stash's default picture is no image
    group = wanted_collections(SCENE, Settings(collections_from_groups=True))[0]
    assert (group.ordered, group.index, group.summary) == (True, 4, "Sun.")
    assert DEFAULT_PERFORMER_MIN_SCENES == 3


def test_settings_parse_and_reject_bad_poster_mode():
    loaded = load_settings({"poster_mode": "Blur", "collection_performer_min_scenes": 0})
    assert loaded.settings.poster_mode == "blur" and loaded.problems == []
    bad = load_settings({"poster_mode": "stretch"})
    assert bad.settings.poster_mode == "" and "poster_mode" in bad.problems[0]


def test_moves_only_out_of_place_items():
    assert moves_for([1, 2, 3], [1, 2, 3]) == []
    assert moves_for([1, 2, 3], [3, 1, 2]) == [(3, None)]
    assert moves_for([5, 1, 2], [1, 2]) == [(1, None), (2, 1)]
