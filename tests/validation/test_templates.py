"""Title templates: empty placeholders vanish with their separator or brackets; settings validation."""
from __future__ import annotations

import pytest

from validation.config import load_settings
from validation.metadata import desired_plex_fields
from validation.config import Settings
from validation.templates import TemplateError, render_template

FULL = {"performers": "Ann, Bo", "title": "Harbour", "date": "2021-07-04", "group": "Summer",
        "scene_index": "3", "studio": "Éclair"}


@pytest.mark.parametrize("template, values, expected", [
    ("{performers} - {title} ({date})", FULL, "Ann, Bo - Harbour (2021-07-04)"),
    ("{performers} - {title} ({date})", dict(FULL, date=""), "Ann, Bo - Harbour"),
    ("{performers} - {title} ({date})", dict(FULL, performers=""), "Harbour (2021-07-04)"),
    ("{performers} - {title} ({date})", dict(FULL, title=""), "Ann, Bo (2021-07-04)"),
    ("{performers} - {title} ({date})", {}, ""),
    ("{group} [#{scene_index}] {title}", dict(FULL, scene_index=""), "Summer Harbour"),
    ("{group} [#{scene_index}] {title}", FULL, "Summer [#3] Harbour"),
    ("{studio} - {performers} - {title}", dict(FULL, performers=""), "Éclair - Harbour"),
    ("{{literal}} (HD) {title}", FULL, "{literal} (HD) Harbour"),
    ("(unclosed {title}", FULL, "(unclosed Harbour"),
    ("{First Performer}", {"first_performer": "Zoë"}, "Zoë"),
    ("{title}!", dict(FULL, title=""), ""),
])
def test_render(template, values, expected):
    assert render_template(template, values) == expected


def test_unknown_placeholder_raises_and_the_setting_falls_back_with_one_problem_line():
    with pytest.raises(TemplateError):
        render_template("{nope}", {})
    loaded = load_settings({"title_template": "{performers} - {tittle}"})
    assert loaded.settings.title_template == ""
    assert len(loaded.problems) == 1 and "{tittle}" in loaded.problems[0] and "title_template" in loaded.problems[0]


def test_tag_destination_and_name_lists_parse_with_clear_problems():
    loaded = load_settings({"tag_destination": "Labels", "exclude_tags": " To review, ,to REVIEW, Misc "})
    assert loaded.settings.tag_destination == "labels"
    assert loaded.settings.exclude_tags == ("To review", "Misc")
    loaded = load_settings({"tag_destination": "tags"})
    assert loaded.settings.tag_destination == "genres" and "tag_destination" in loaded.problems[0]
    assert load_settings({"tag_destination": ""}).settings.tag_destination == "genres"


def test_default_settings_write_the_same_title_as_before_and_no_new_fields():
    scene = {"id": "1", "title": "Plain", "files": [{"path": "/x/file name.mp4"}], "tags": [{"name": "A"}]}
    fields = desired_plex_fields(scene, Settings())
    assert fields.get("title") == "Plain" and fields.get("titleSort") == "Plain"
    assert "contentRating" not in fields and "label" not in fields and fields.get("genre") == ("A",)
    untitled = desired_plex_fields(dict(scene, title=None), Settings())
    assert untitled.get("title") == "file name"


def test_summary_footer_holds_the_scene_address_only_when_asked():
    scene = {"id": "5", "title": "T", "details": "Line one\n", "files": []}
    on = Settings(stash_link_in_summary=True)
    assert desired_plex_fields(scene, on, "http://nas:9999/scenes/5").get("summary") == (
        "Line one\n\nStash: http://nas:9999/scenes/5")
    assert desired_plex_fields(dict(scene, details=None), on, "http://nas:9999/scenes/5").get("summary") == (
        "Stash: http://nas:9999/scenes/5")
    assert desired_plex_fields(scene, Settings(), "http://nas:9999/scenes/5").get("summary") == "Line one\n"
    loaded = load_settings({"stash_url": "http://nas:9999/"})
    assert loaded.settings.stash_url == "http://nas:9999" and not loaded.problems


def test_with_default_settings_the_state_hash_is_the_one_recorded_before_issue_13():
    """Upgrading must not re-send an unchanged library: these hashes were computed by the code before
    templates, labels and exclusions existed (commit a639200)."""
    from validation.metadata import scene_state_hash
    scene = {"id": "3", "title": "  Café Noir — Zoë’s 🌙 ", "details": "Two\nlines", "date": "2021-07",
             "code": "HL-7", "director": "A, B", "studio": {"name": "Studio Éclair", "parent_studio": None},
             "performers": [{"name": "Zoë Ångström"}], "tags": [{"id": "1", "name": "Night", "parents": []}],
             "groups": [], "urls": ["https://example.invalid/1"], "rating100": 80, "files": [{"path": "/data/x.mp4"}]}
    untitled = dict(scene, title=None)
    assert scene_state_hash(scene, desired_plex_fields(scene, Settings()), "p") == \
        "f5b64ff6c838a90f34a01de4ae75032c1fc7c4b7"
    assert scene_state_hash(untitled, desired_plex_fields(untitled, Settings()), "p") == \
        "02210c738040d7d47cd82ebb3100036b8ba12339"


def test_wrong_typed_scene_fields_never_stop_the_title_templates():
    settings = load_settings({"title_template": "{performers} - {first_performer} {group} #{scene_index} "
                                                "{studio} {parent_studio} {date} {year} {code} {title}"}).settings
    odd = {"id": "1", "title": 3.5, "performers": 1.5, "groups": 7, "studio": "x", "date": 2020, "code": None,
           "files": [{"path": "/a/b.mp4"}]}
    assert desired_plex_fields(odd, settings).get("title") == "2020 2020 3.5"  # {date} {year} {title}
