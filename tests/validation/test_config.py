"""Settings: defaults, clear problems for odd values, and a manifest that matches them."""
from __future__ import annotations

import os

import pytest
import yaml

from tests.conftest import REPO_ROOT
from validation.config import SPECS, Settings, load_settings


def test_absent_settings_take_documented_defaults():
    loaded = load_settings(None)
    assert loaded.problems == [] and loaded.settings == Settings()
    assert loaded.settings.strict_matching is True and loaded.settings.preserve_plex_edits is False
    assert "Plex server URL and Plex token not set" in loaded.settings.missing_plex_message()
    assert "Settings -> Plugins -> PlexSync" in loaded.settings.missing_plex_message()


def test_values_are_parsed():
    s = load_settings({"plex_url": "http://10.0.0.2:32400/", "plex_token": "t0k3n", "plex_libraries": "A, B,",
                       "path_map": "/data/=>/media/; D:\\Videos=>/mnt/v", "max_retries": 3,
                       "allow_uncertain_matches": True, "skip_tags": True, "read_timeout": "12.5"}).settings
    assert s.plex_url == "http://10.0.0.2:32400" and s.plex_libraries == ("A", "B")
    assert s.path_map == (("/data/", "/media/"), ("D:\\Videos", "/mnt/v"))
    assert s.max_retries == 3 and s.strict_matching is False and s.read_timeout == 12.5
    assert s.sync_tags is False and s.sync_title is True and s.enabled is True
    assert s.plex_configured and s.missing_plex_message() is None


@pytest.mark.parametrize("raw, fragment", [
    ({"plex_url": "ftp://plex"}, "plex_url"),
    ({"plex_url": "localhost:32400"}, "must start with http"),
    ({"max_retries": -1}, "max_retries"),
    ({"max_retries": 51}, "outside 1-50"),
    ({"read_timeout": "soon"}, "not a number"),
    ({"connect_timeout": float("nan")}, "not a number"),
    ({"allow_uncertain_matches": "perhaps"}, "true/false"),
    ({"path_map": "/data/ -> /media/"}, "path_map"),
    ({"plex_libraries": 12}, "not text"),
])
def test_bad_values_give_one_clear_line_and_the_default(raw, fragment):
    loaded = load_settings(raw)
    assert len(loaded.problems) == 1 and fragment in loaded.problems[0]
    assert loaded.settings == Settings()


def test_token_is_never_shown_in_a_problem():
    loaded = load_settings({"plex_token": 12345678})
    assert loaded.problems and "12345678" not in loaded.problems[0]


def manifest() -> dict:
    with open(os.path.join(REPO_ROOT, "PlexSync.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_manifest_declares_exactly_the_settings_with_text_a_user_understands():
    settings = manifest()["settings"]
    assert set(settings) == set(SPECS)
    for key, spec in SPECS.items():
        assert settings[key]["type"] == spec.type
        assert settings[key]["displayName"] and len(settings[key]["description"]) > 20


def test_manifest_passes_the_community_validator_rules():
    import re
    m = manifest()
    assert set(m) <= {"name", "description", "version", "url", "ui", "exec", "interface", "errLog", "hooks",
                      "tasks", "settings"}
    assert re.fullmatch(r"\d+(\.\d+)?(\.\d+)?", str(m["version"]))
    trigger = re.compile(r"(Scene|SceneMarker|Image|Gallery|GalleryChapter|Group|Movie|Performer|Studio|Tag)"
                         r"\.(Create|Update|Destroy|Merge)\.Post")
    for hook in m["hooks"]:
        assert all(trigger.fullmatch(t) for t in hook["triggeredBy"])
    assert {"Scene.Update.Post", "Scene.Create.Post"} <= {t for h in m["hooks"] for t in h["triggeredBy"]}
    assert "Process queue" in [t["name"] for t in m["tasks"]]
    assert all(isinstance(v, str) for t in m["tasks"] for v in t.get("defaultArgs", {}).values())


def test_manifest_loads_in_the_strict_sandbox_host(sandbox):
    assert "PlexSync" in sandbox.host.plugins
    modes = {t.default_args["mode"] if hasattr(t, "default_args") else t["defaultArgs"]["mode"]
             for t in sandbox.host.plugins["PlexSync"].tasks}
    import PlexSync
    assert modes == set(PlexSync.TASKS)


def page_as_shown(settings: dict) -> dict:
    """What Stash's settings page shows, and saves when the user presses each field once without typing:
    an unset BOOLEAN as false, an unset NUMBER as 0, an unset STRING as empty (SettingsPluginsPanel.tsx)."""
    shown = {"BOOLEAN": False, "NUMBER": 0, "STRING": ""}
    return {key: shown[entry["type"]] for key, entry in settings.items()}


def test_every_switch_defaults_to_off_so_the_page_shows_what_plexsync_does():
    declared = manifest()["settings"]
    for key, entry in declared.items():
        if entry["type"] == "BOOLEAN":
            assert SPECS[key].default is False, f"{key}: Stash shows an unset switch as off; its default must be off"


def test_settings_saved_as_the_page_shows_them_load_like_no_settings_at_all():
    loaded = load_settings(page_as_shown(manifest()["settings"]))
    assert loaded.problems == [], loaded.problems
    assert loaded.settings == load_settings({}).settings == Settings()


@pytest.mark.parametrize("key", [k for k, spec in SPECS.items() if spec.type in ("NUMBER", "STRING")])
def test_zero_or_empty_means_the_default_without_a_warning(key):
    unset = 0 if SPECS[key].type == "NUMBER" else ""
    loaded = load_settings({key: unset})
    assert loaded.problems == [] and loaded.settings == Settings()
    if SPECS[key].type == "NUMBER":
        assert load_settings({key: ""}).settings == Settings()  # a field emptied on the page


@pytest.mark.parametrize("key", [k for k, spec in SPECS.items() if spec.type == "BOOLEAN"])
def test_one_click_on_a_switch_changes_what_plexsync_does(key):
    # Clicking an unset switch stores true (`!value` of undefined): that must be a real change.
    assert load_settings({key: True}).settings != Settings()


def test_manifest_and_readme_are_written_from_the_specs():
    from release import settings_docs
    assert settings_docs.main(["--check"]) == 0, "run: python -m release.settings_docs"
