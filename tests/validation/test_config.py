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
                       "strict_matching": False, "read_timeout": "12.5"}).settings
    assert s.plex_url == "http://10.0.0.2:32400" and s.plex_libraries == ("A", "B")
    assert s.path_map == (("/data/", "/media/"), ("D:\\Videos", "/mnt/v"))
    assert s.max_retries == 3 and s.strict_matching is False and s.read_timeout == 12.5
    assert s.plex_configured and s.missing_plex_message() is None


@pytest.mark.parametrize("raw, fragment", [
    ({"plex_url": "ftp://plex"}, "plex_url"),
    ({"plex_url": "localhost:32400"}, "must start with http"),
    ({"max_retries": -1}, "max_retries"),
    ({"read_timeout": "soon"}, "not a number"),
    ({"connect_timeout": float("nan")}, "not a number"),
    ({"strict_matching": "perhaps"}, "true/false"),
    ({"path_map": "/data/ -> /media/"}, "path_map"),
    ({"plex_libraries": 12}, "not text"),
])
def test_bad_values_give_one_clear_line_and_the_default(raw, fragment):
    loaded = load_settings(raw)
    assert len(loaded.problems) == 1 and fragment in loaded.problems[0]
    key = next(iter(raw))
    assert getattr(loaded.settings, key) == getattr(Settings(), key)


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
