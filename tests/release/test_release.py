"""The release package: exactly the runtime files, an index.yml entry Stash accepts, and a zip that,
installed into a fresh sandbox host folder, loads and syncs a scene edit end to end."""
from __future__ import annotations

import hashlib
import os
import zipfile

import pytest
import yaml

from release import build as release_build
from tests.conftest import REPO_ROOT, plugin_lines


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    return release_build.build(str(tmp_path_factory.mktemp("dist")))


def expected_members() -> set[str]:
    names = {"PlexSync.yml", "PlexSync.py", "requirements.txt"}
    if os.path.isfile(os.path.join(REPO_ROOT, "README.md")):
        names.add("README.md")
    for package in ("hooks", "worker", "plex", "queue", "validation", "stash"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(REPO_ROOT, package)):
            dirnames[:] = [d for d in dirnames if d not in ("__pycache__", "data", "py_deps")]
            names.update(os.path.relpath(os.path.join(dirpath, f), REPO_ROOT).replace(os.sep, "/")
                         for f in filenames if f.endswith((".py", ".html", ".js", ".css")))
    return names


def test_zip_holds_exactly_the_runtime_files(built):
    with zipfile.ZipFile(built["zip_path"]) as zf:
        names = set(zf.namelist())
    assert names == expected_members()
    assert [n for n in names if n.endswith(".yml")] == ["PlexSync.yml"]  # Stash parses every .yml
    for forbidden in ("tests/", "sandbox/", "bench/", "release/", "data/", "py_deps/", ".ci/", ".git"):
        assert not any(n.startswith(forbidden) for n in names), forbidden
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert {"queue/__init__.py", "hooks/handlers.py", "worker/drain.py", "worker/deps.py"} <= names
    assert {"worker/coverage_template/index.html", "worker/coverage_template/coverage.js",
            "worker/coverage_template/coverage.css"} <= names  # the Coverage report task's page


def test_index_entry_matches_the_zip(built):
    out_dir = os.path.dirname(built["zip_path"])
    with open(os.path.join(out_dir, "index.yml"), encoding="utf-8") as fh:
        index = yaml.safe_load(fh)
    assert isinstance(index, list) and len(index) == 1
    entry = index[0]
    assert set(entry) >= {"id", "name", "version", "date", "path", "sha256", "metadata"}
    assert entry["id"] == "PlexSync" and entry["path"] == "PlexSync.zip"
    with open(os.path.join(out_dir, entry["path"]), "rb") as fh:
        assert entry["sha256"] == hashlib.sha256(fh.read()).hexdigest()
    yml = open(os.path.join(REPO_ROOT, "PlexSync.yml"), encoding="utf-8").read()
    version = yaml.safe_load(yml)["version"]
    assert str(entry["version"]).startswith(f"{version}-")
    assert entry["metadata"]["description"] == yaml.safe_load(yml)["description"]
    if "# requires: PythonDepManager" in yml:
        assert entry["requires"] == ["PythonDepManager"]


def test_rebuild_is_byte_identical(built, tmp_path):
    again = release_build.build(str(tmp_path))
    assert again["sha256"] == built["sha256"]


def test_zip_installed_into_a_fresh_host_loads_and_syncs(built, tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=6, plex_items=10, install_plugin=False) as sb:
        assert "PlexSync" not in sb.host.plugins
        assert sb.install_plugin(built["zip_path"])
        assert "PlexSync" in sb.host.plugins
        assert not [text for _lvl, text in sb.host.log_snapshot() if "Error loading plugin" in text]
        assert not os.path.exists(os.path.join(sb.plugin_dir, "tests"))
        result = sb.stash.gql('mutation { sceneUpdate(input: {id: "3", title: "From the release zip"}) { id } }')
        assert result["data"]["sceneUpdate"]["id"] == "3"
        assert sb.host.wait_idle(90)
        item = sb.plex.item(sb.world.scene_rating_keys[3][0])
        assert item["title"] == "From the release zip"
        assert "title" in item["locked"]
        assert any("scene 3 synced" in text for _lvl, text in plugin_lines(sb))
