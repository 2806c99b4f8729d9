"""Issue 11, end to end: changes that fire no hook (Auto Tag) reach Plex with nobody pressing anything,
through one catch-up run queued behind Stash's own jobs, or the catch_up_minutes look at a drain's start."""
from __future__ import annotations

from tests.worker.helpers import configure, gql, plex_item_for, plugin_texts, update_scene

AUTO_TAG = "mutation($input: AutoTagMetadataInput!) { metadataAutoTag(input: $input) }"


def test_auto_tag_after_a_save_reaches_plex_after_the_auto_tag_job(sandbox):
    sb = sandbox
    sid = sb.world.scene_ids[4]
    word = sb.world.scene_files[sid].rsplit("-", 1)[1].split(".")[0]  # a whole word of its file name
    tag = sb.stash.add_tag(word.title())
    update_scene(sb, sid, details="saved, then Auto Tag")
    gql(sb, AUTO_TAG, {"input": {"tags": [str(tag)]}})  # the drain the save asked for is still running
    assert sb.host.wait_idle(120)
    assert sb.stash.scene(sid)["tags"][-1]["id"] == tag  # Auto Tag changed it, and fired no hook
    assert word.title() in plex_item_for(sb, sid)["genres"]
    catch_ups = [t for t in plugin_texts(sb) if "queued one catch-up run" in t]
    assert len(catch_ups) == 1


def test_one_catch_up_run_for_several_stash_jobs(sandbox):
    import threading
    sb = sandbox
    release = threading.Event()
    sb.host.add_job("Scanning...", lambda _ctx: release.wait(60))  # holds the queue
    sid = sb.world.scene_ids[5]
    update_scene(sb, sid, details="behind a scan")  # its drain waits behind the scan
    tags = [sb.stash.add_tag(name) for name in ("Alpha Catch", "Beta Catch")]
    for tag in tags:
        gql(sb, AUTO_TAG, {"input": {"tags": [str(tag)]}})
    release.set()
    assert sb.host.wait_idle(120)
    drains = [t for t in plugin_texts(sb) if t.count("Process queue:")]
    assert len([t for t in plugin_texts(sb) if "queued one catch-up run" in t]) == 1, drains


def test_catch_up_minutes_picks_up_a_change_without_hook_on_the_next_save(sandbox, monkeypatch):
    sb = sandbox
    configure(sb, catch_up_minutes=30)
    a, b = sb.world.scene_ids[6], sb.world.scene_ids[7]
    update_scene(sb, a, details="first save")  # the first drain starts the catch-up clock
    assert sb.host.wait_idle(60)
    sb.stash.advance_clock(2)
    sb.stash.touch_scene_without_hook(b, details="changed by something without a hook")
    update_scene(sb, a, details="second save, minutes later")
    assert sb.host.wait_idle(60)
    assert plex_item_for(sb, b)["summary"] != "changed by something without a hook"  # not due yet

    monkeypatch.setenv("PLEXSYNC_CLOCK_OFFSET", str(31 * 60))  # the injected clock: 31 minutes later
    update_scene(sb, a, details="third save, half an hour later")
    assert sb.host.wait_idle(120)
    assert plex_item_for(sb, b)["summary"] == "changed by something without a hook"
    assert plex_item_for(sb, a)["summary"] == "third save, half an hour later"


def test_negative_catch_up_minutes_never_looks(sandbox, monkeypatch):
    sb = sandbox
    configure(sb, catch_up_minutes=-1)
    a, b = sb.world.scene_ids[6], sb.world.scene_ids[7]
    update_scene(sb, a, details="first save")
    assert sb.host.wait_idle(60)
    sb.stash.touch_scene_without_hook(b, details="no hook, never looked for")
    monkeypatch.setenv("PLEXSYNC_CLOCK_OFFSET", str(10 * 24 * 3600))
    update_scene(sb, a, details="much later")
    assert sb.host.wait_idle(60)
    assert plex_item_for(sb, b)["summary"] != "no hook, never looked for"


def test_readme_timer_command_runs_sync_recent_with_an_api_key(tmp_path):
    """The README's curl recipe, as written, against a Stash that requires authentication."""
    import os
    import re
    import subprocess
    from sandbox import Sandbox
    from tests.conftest import REPO_ROOT
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    section = readme[readme.index("### Running \"Sync recent\" on a timer"):]
    command = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    with Sandbox(str(tmp_path / "sb"), scenes=4, plex_items=6, auth=True) as sb:
        command = command.replace("http://localhost:9999", sb.stash.url)
        env = dict(os.environ, STASH_API_KEY=sb.info["stash_api_key"])
        out = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and '"runPluginTask"' in out.stdout, (out.stdout, out.stderr)
        assert sb.host.wait_idle(120)
        assert any("Sync recent (" in t for t in plugin_texts(sb))
