"""The Sandbox Python API: the seeded world is consistent and deterministic; plugin install and upgrade."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from sandbox import PLUGIN_ID, Sandbox, install_plugin
from sandbox.seed import PATH_MAP, to_plex_path


def world_facts(sb: Sandbox) -> tuple:
    scenes = [sb.stash.scene(i) for i in sb.world.scene_ids]
    items = sb.plex.items()
    return ([(s["title"], s["files"], s["date"], s["details"]) for s in scenes],
            [(i["rating_key"], i["section_key"], i["title"], i["files"]) for i in items])


@pytest.fixture
def sb(tmp_path: Path):
    with Sandbox(tmp_path / "sb", scenes=12, plex_items=30, install_plugin=False) as box:
        yield box


def test_seeded_world_is_consistent(sb: Sandbox) -> None:
    world = sb.world
    items = sb.plex.items()
    assert len(items) == 30 and len(world.scene_ids) == 12
    by_path: dict[str, list[dict]] = {}
    for item in items:
        for f in item["files"]:
            by_path.setdefault(f, []).append(item)
    clashes = {world.clash_both_sections, world.clash_basename}
    for scene_id in world.scene_ids:
        stash_path = sb.stash.scene(scene_id)["files"][0]
        assert stash_path.startswith("/data/scenes/")
        mapped = to_plex_path(stash_path)
        assert mapped == "/media/" + stash_path[len("/data/"):]      # the path_map setting bridges them
        if scene_id not in clashes:
            assert [i["rating_key"] for i in by_path[mapped]] == world.scene_rating_keys[scene_id]
    both = by_path[to_plex_path(world.scene_files[world.clash_both_sections])]
    assert {i["section_key"] for i in both} == set(world.sections.values())
    basename_scene = world.scene_files[world.clash_basename]
    assert to_plex_path(basename_scene) not in by_path
    same_name = [i for i in items if any(f.rsplit("/", 1)[1] == basename_scene.rsplit("/", 1)[1]
                                         for f in i["files"])]
    assert sorted(i["rating_key"] for i in same_name) == sorted(world.clash_basename_items)
    assert world.plex_only and all(not any(f.startswith("/media/scenes/") and f in
                                           {to_plex_path(p) for p in world.scene_files.values()}
                                           for f in sb.plex.item(rk)["files"]) for rk in world.plex_only)


def test_seeded_scenes_carry_varied_metadata(sb: Sandbox) -> None:
    scenes = [sb.stash.scene(i) for i in sb.world.scene_ids]
    dates = {s["date"] for s in scenes}
    assert any(d and len(d) == 4 for d in dates) and any(d and len(d) == 7 for d in dates)
    assert any(d and len(d) == 10 for d in dates) and None in dates
    assert any(s["title"] is None for s in scenes)
    assert any(s["title"] and any(ord(c) > 0xFFFF for c in s["title"]) for s in scenes)   # emoji
    assert any(s["details"] and "\n" in s["details"] for s in scenes)
    assert all(s["studio"] for s in scenes) and all(s["performers"] for s in scenes)
    assert any(s["tags"] for s in scenes) and any(s["groups"] for s in scenes)
    assert any(s["studio"]["parent"] for s in scenes)
    assert sb.stash.plugin_config(PLUGIN_ID) == {"plex_url": sb.plex.url, "plex_token": sb.plex.token,
                                                 "path_map": PATH_MAP}


def test_seed_is_deterministic(sb: Sandbox, tmp_path: Path) -> None:
    with Sandbox(tmp_path / "again", scenes=12, plex_items=30, install_plugin=False) as other:
        assert world_facts(other) == world_facts(sb)
    with Sandbox(tmp_path / "other-seed", scenes=12, plex_items=30, install_plugin=False, seed=2) as other:
        assert world_facts(other) != world_facts(sb)


def test_install_from_zip_replaces_files_but_keeps_data(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    dest = plugins / PLUGIN_ID
    (dest / "data").mkdir(parents=True)
    (dest / "data" / "queue.db").write_text("keep me")
    (dest / "stale.py").write_text("from an older release")
    release = tmp_path / "release.zip"
    with zipfile.ZipFile(release, "w") as zf:
        zf.writestr(f"{PLUGIN_ID}.yml", "name: PlexSync\nexec: [python, '{pluginDir}/PlexSync.py']\n")
        zf.writestr(f"{PLUGIN_ID}.py", "print('{}')\n")
        zf.writestr("hooks/__init__.py", "")
    assert install_plugin(str(release), str(plugins)) == str(dest)
    assert sorted(os.listdir(dest)) == [f"{PLUGIN_ID}.py", f"{PLUGIN_ID}.yml", "data", "hooks"]
    assert (dest / "data" / "queue.db").read_text() == "keep me"


def test_install_from_checkout_skips_caches_and_data(tmp_path: Path) -> None:
    src = tmp_path / "checkout"
    (src / "hooks" / "__pycache__").mkdir(parents=True)
    (src / "hooks" / "__init__.py").write_text("")
    (src / "hooks" / "__pycache__" / "x.pyc").write_bytes(b"")
    (src / "data").mkdir()
    (src / "tests").mkdir()
    (src / f"{PLUGIN_ID}.yml").write_text("name: PlexSync\n")
    dest = Path(install_plugin(str(src), str(tmp_path / "plugins")))
    assert sorted(os.listdir(dest)) == [f"{PLUGIN_ID}.yml", "hooks"]
    assert os.listdir(dest / "hooks") == ["__init__.py"]
    with pytest.raises(FileNotFoundError):
        install_plugin(str(tmp_path / "nowhere"), str(tmp_path / "plugins"))
