"""The plugin host runs the example plugin (tests/sandbox/example_plugin) the way Stash runs plugins."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from sandbox.host import MAX_CYCLIC_LOOP_DEPTH, PluginHost

EXAMPLE = Path(__file__).parent / "example_plugin"
PLUGIN_ID = "ExamplePlugin"
TRIGGER = "Scene.Update.Post"
WAIT = 60.0   # generous bound on every wait; nothing here asserts on speed

SCENE_UPDATE_KEYS = ["clientMutationId", "id", "title", "code", "details", "director", "url", "urls", "date",
                     "rating100", "o_counter", "organized", "studio_id", "gallery_ids", "performer_ids",
                     "movies", "groups", "tag_ids", "cover_image", "stash_ids", "resume_time",
                     "play_duration", "play_count", "primary_file_id"]
COOKIE_FIELDS = ["Name", "Value", "Quoted", "Path", "Domain", "Expires", "RawExpires", "MaxAge", "Secure",
                 "HttpOnly", "SameSite", "Partitioned", "Raw", "Unparsed"]


# --- fixtures and helpers ---------------------------------------------------------------------------------

@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    plugins = tmp_path / "plugins"
    stash_dir = tmp_path / "stash"
    stash_dir.mkdir()
    shutil.copytree(EXAMPLE, plugins / PLUGIN_ID, ignore=shutil.ignore_patterns("__pycache__", "out"))
    return {"plugins": plugins, "stash": stash_dir, "plugin": plugins / PLUGIN_ID, "out": tmp_path / "out"}


@pytest.fixture
def host(dirs: dict[str, Path]):
    h = PluginHost(str(dirs["plugins"]), str(dirs["stash"]))
    h.load_plugins()
    yield h
    h.close()


@pytest.fixture
def stash(host: PluginHost):
    """The real simulated Stash, its hooks wired to the host."""
    from sandbox.stash import StashSim
    sim = StashSim(host=host)
    host.attach(sim)
    sim.start()
    yield sim
    sim.stop()


def records(out_dir: Path, mode: str) -> list[dict]:
    """What the example plugin recorded, in invocation order."""
    files = sorted(glob.glob(str(out_dir / f"{mode}-*.json")), key=lambda p: int(Path(p).name.split("-")[1]))
    return [json.loads(Path(f).read_text(encoding="utf-8")) for f in files]


def finished_job(host: PluginHost, job_id: str) -> dict:
    assert host.wait_idle(WAIT), "job queue did not drain"
    job = host.find_job(job_id)
    assert job is not None
    return job


def has_log(host: PluginHost, level: str, text: str) -> bool:
    return (level, text) in host.log_snapshot()


def write_manifest(plugins: Path, name: str, text: str) -> Path:
    folder = plugins / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """name: {name}
exec:
  - python
  - "{{pluginDir}}/x.py"
interface: raw
"""


# --- manifest loading --------------------------------------------------------------------------------------

def test_manifest_loads_with_string_default_args(host: PluginHost, dirs) -> None:
    plugin = host.plugins[PLUGIN_ID]
    assert plugin.name == "Example Plugin"
    assert plugin.version == "1.0"                       # any scalar is kept as its raw text
    assert plugin.task("Progress").default_args == {"mode": "progress", "steps": "4"}
    assert plugin.hooks[0].triggered_by == [TRIGGER]
    assert plugin.settings["outDir"].type == "STRING"
    assert plugin.plugin_dir == str(dirs["plugin"])


@pytest.mark.parametrize("body, message", [
    (MINIMAL.format(name="Bad") + "requires:\n  - Other\n", "field requires not found in type plugin.Config"),
    (MINIMAL.format(name="Bad") + "tasks:\n  - name: T\n    defaultArg:\n      a: b\n",
     "field defaultArg not found in type plugin.OperationConfig"),
    (MINIMAL.format(name="Bad") + "ui:\n  csp:\n    img-src: [x]\n", "field img-src not found"),
    (MINIMAL.format(name="Bad") + "name: Again\n", 'key "name" already set in map'),
    (MINIMAL.format(name="Bad") + "settings:\n  a:\n    type: STRING\n  a:\n    type: NUMBER\n",
     'key "a" already set in map'),
    (MINIMAL.format(name="Bad") + "settings:\n  a:\n    type: INTEGER\n", "invalid setting type INTEGER"),
    (MINIMAL.format(name="Bad") + "tasks:\n  - name: T\n    defaultArgs:\n      a: [1, 2]\n",
     "cannot unmarshal !!seq"),
    ("name: Bad\nexec: python x.py\n", "cannot unmarshal !!str"),
    (MINIMAL.format(name="Bad").replace("raw", "lua"), "invalid interface type: lua"),
])
def test_strict_manifest_rejected(dirs, body: str, message: str) -> None:
    path = write_manifest(dirs["plugins"], "Bad", body)
    h = PluginHost(str(dirs["plugins"]), str(dirs["stash"]))
    try:
        h.load_plugins()
        assert "Bad" not in h.plugins and PLUGIN_ID in h.plugins
        errors = [t for lvl, t in h.log_snapshot() if lvl == "error"]
        assert any(t.startswith(f"Error loading plugin {path}: ") and message in t for t in errors), errors
    finally:
        h.close()


def test_duplicate_plugin_id_is_skipped_case_insensitively(dirs) -> None:
    other = write_manifest(dirs["plugins"] / "zzz", "examplePlugin", MINIMAL.format(name="Impostor"))
    h = PluginHost(str(dirs["plugins"]), str(dirs["stash"]))
    try:
        h.load_plugins()
        assert list(h.plugins) == [PLUGIN_ID]
        assert h.plugins[PLUGIN_ID].name == "Example Plugin"
        assert any(str(other) in t and "already exists" in t for _, t in h.log_snapshot())
    finally:
        h.close()


def test_manifests_found_through_symlinks(dirs, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    write_manifest(elsewhere, "Linked", MINIMAL.format(name="Linked"))
    os.symlink(elsewhere, dirs["plugins"] / "community")
    h = PluginHost(str(dirs["plugins"]), str(dirs["stash"]))
    try:
        h.load_plugins()
        assert set(h.plugins) == {PLUGIN_ID, "Linked"}
    finally:
        h.close()


# --- tasks -------------------------------------------------------------------------------------------------

def test_task_reports_progress_and_gets_stash_shaped_stdin(host: PluginHost, dirs, monkeypatch) -> None:
    job_id = host.run_task(PLUGIN_ID, "Progress", {"steps": 5, "outDir": str(dirs["out"])}, "Progress test")
    job = finished_job(host, job_id)
    assert job["status"] == "FINISHED"
    assert job["progress"] == 1.0
    assert job["description"] == "Progress test"
    assert job["addTime"] and job["startTime"] and job["endTime"]
    assert has_log(host, "info", "[Plugin / Example Plugin] step 5 of 5")
    assert has_log(host, "debug", "Plugin returned: done")

    (rec,) = records(dirs["out"], "progress")
    stdin = rec["stdin"]
    assert stdin["args"] == {"mode": "progress", "steps": 5, "outDir": str(dirs["out"])}   # args_map overlays
    conn = stdin["server_connection"]
    assert list(conn) == ["Scheme", "Host", "Port", "SessionCookie", "Dir", "PluginDir"]
    assert (conn["Scheme"], conn["Host"], conn["Port"]) == ("http", "0.0.0.0", host.port)
    assert list(conn["SessionCookie"]) == COOKIE_FIELDS
    assert conn["SessionCookie"]["Name"] == "session" and conn["SessionCookie"]["MaxAge"] == 3600
    assert conn["Dir"] == str(dirs["stash"]) and conn["PluginDir"] == str(dirs["plugin"])
    # How the process was started: resolved python, {pluginDir} substituted, cwd and PYTHONPATH.
    assert rec["executable"] == sys.executable
    assert rec["argv"] == [str(dirs["plugin"] / "example.py")]
    assert rec["cwd"] == str(dirs["stash"])
    assert rec["pythonpath"].split(os.pathsep)[-1] == str(dirs["plugins"])


def test_pythonpath_is_appended_to_existing(host: PluginHost, dirs, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/opt/existing")
    finished_job(host, host.run_task(PLUGIN_ID, "Progress", {"outDir": str(dirs["out"])}))
    (rec,) = records(dirs["out"], "progress")
    assert rec["pythonpath"] == os.pathsep.join(["/opt/existing", str(dirs["plugins"])])


def test_task_error_result_is_logged_and_job_still_finishes(host: PluginHost, dirs) -> None:
    job = finished_job(host, host.run_task(PLUGIN_ID, "Fail", {"outDir": str(dirs["out"])}))
    assert job["status"] == "FINISHED"            # Stash never marks a plugin job failed
    assert has_log(host, "error", "Plugin returned error: boom")
    assert has_log(host, "warning", "[Plugin / Example Plugin] about to fail")


def test_nonzero_exit_becomes_exit_status_error(host: PluginHost, dirs) -> None:
    finished_job(host, host.run_task(PLUGIN_ID, "Exit", {"outDir": str(dirs["out"])}))
    assert has_log(host, "error", "Plugin returned error: exit status 3")


def test_unprefixed_stderr_logged_at_error(host: PluginHost, dirs) -> None:
    finished_job(host, host.run_task(PLUGIN_ID, "Noisy", {"outDir": str(dirs["out"])}))
    assert has_log(host, "error", "[Plugin / Example Plugin] plain stderr line")
    assert has_log(host, "warning", "[Plugin / Example Plugin] prefixed warning")
    assert has_log(host, "error", "[Plugin / Example Plugin] \x01x\x02unknown level char")


def test_err_log_level_from_manifest(dirs) -> None:
    manifest = dirs["plugin"] / f"{PLUGIN_ID}.yml"
    manifest.write_text(manifest.read_text().replace("interface: raw", "interface: raw\nerrLog: info"))
    h = PluginHost(str(dirs["plugins"]), str(dirs["stash"]))
    try:
        h.load_plugins()
        finished_job(h, h.run_task(PLUGIN_ID, "Noisy", {"outDir": str(dirs["out"])}))
        assert has_log(h, "info", "[Plugin / Example Plugin] plain stderr line")
    finally:
        h.close()


def test_stderr_reading_stops_at_line_over_64k(host: PluginHost, dirs) -> None:
    finished_job(host, host.run_task(PLUGIN_ID, "Big line", {"outDir": str(dirs["out"])}))
    texts = [t for _, t in host.log_snapshot()]
    assert "[Plugin / Example Plugin] before big line" in texts
    assert not any("after big line" in t for t in texts)
    assert 'Plugin returned: {"broken_pipe": true}' in texts   # the plugin saw EPIPE on stderr


def test_stop_kills_running_task_and_cancels_queued_one(host: PluginHost, dirs) -> None:
    sleeper = host.run_task(PLUGIN_ID, "Sleep", {"outDir": str(dirs["out"])})
    queued = host.run_task(PLUGIN_ID, "Progress", {"outDir": str(dirs["out"])})
    assert host.wait_for_log(lambda e: e[1].endswith("] sleeping"), timeout=WAIT) is not None
    pid = int((dirs["out"] / "sleep.pid").read_text())
    assert host.find_job(sleeper)["status"] == "RUNNING"
    assert [j["id"] for j in host.job_queue()] == [sleeper, queued]

    assert host.stop_job(queued) is True
    assert host.find_job(queued)["status"] == "CANCELLED"
    assert host.stop_job(sleeper) is True
    job = finished_job(host, sleeper)
    assert job["status"] == "CANCELLED"
    assert host.job_queue() == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)                          # killed and reaped
    assert records(dirs["out"], "progress") == []   # the cancelled job never ran
    assert host.stop_job(sleeper) is False


def test_unknown_task_fails_the_job(host: PluginHost) -> None:
    job = finished_job(host, host.run_task(PLUGIN_ID, "No such task", {}))
    assert job["status"] == "FAILED" and "No such task" in job["error"]
    assert host.find_job("999") is None


# --- hooks -------------------------------------------------------------------------------------------------

def test_hook_context_and_errors(host: PluginHost, dirs) -> None:
    host.fire_hooks(TRIGGER, 7, {"id": "7", "title": "fail"}, ["title", "id"], [])
    (rec,) = records(dirs["plugin"] / "out", "hook")
    assert rec["stdin"]["args"] == {"mode": "hook", "hookContext": {
        "id": 7, "type": TRIGGER, "input": {"id": "7", "title": "fail"}, "inputFields": ["title", "id"]}}
    assert has_log(host, "error", f"{TRIGGER} [Example Plugin]: returned error: hook failed on purpose")

    host.fire_hooks(TRIGGER, 0, None, None, [])   # scan-like: id 0 and no fields are omitted
    assert records(dirs["plugin"] / "out", "hook")[1]["stdin"]["args"]["hookContext"] == {
        "type": TRIGGER, "input": None}
    host.fire_hooks("Scene.Create.Post", 8, None, None, [])   # not subscribed
    assert len(records(dirs["plugin"] / "out", "hook")) == 2


def test_loop_guard_skips_after_ten_visits(host: PluginHost, dirs) -> None:
    pair = (PLUGIN_ID, TRIGGER)
    host.fire_hooks(TRIGGER, 1, {"id": "1"}, ["id"], [pair] * MAX_CYCLIC_LOOP_DEPTH)
    assert records(dirs["plugin"] / "out", "hook") == []
    host.fire_hooks(TRIGGER, 1, {"id": "1"}, ["id"], [pair] * (MAX_CYCLIC_LOOP_DEPTH - 1)
                    + [(PLUGIN_ID, "Scene.Create.Post"), ("Other", TRIGGER)])
    assert len(records(dirs["plugin"] / "out", "hook")) == 1


def test_scene_update_mutation_fires_hook_synchronously(stash, host: PluginHost, dirs) -> None:
    scene_id = stash.add_scene("Before", ["/data/scenes/a.mp4"])
    result = stash.gql("mutation($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id title } }",
                       {"input": {"id": str(scene_id), "title": "After"}})
    assert "errors" not in result, result
    assert result["data"]["sceneUpdate"]["title"] == "After"
    # The mutation answered only after the hook process finished, so its record is already there.
    (rec,) = records(dirs["plugin"] / "out", "hook")
    conn = rec["stdin"]["server_connection"]
    assert conn["Port"] == stash.port and conn["SessionCookie"]["Value"]
    ctx = rec["stdin"]["args"]["hookContext"]
    assert ctx["id"] == scene_id and ctx["type"] == TRIGGER
    assert list(ctx["input"]) == SCENE_UPDATE_KEYS                  # every key present, unsent ones null
    assert ctx["input"]["title"] == "After" and ctx["input"]["details"] is None
    assert sorted(ctx["inputFields"]) == ["id", "title"]
    assert has_log(host, "debug", f"{TRIGGER} [Example Plugin]: returned: recorded")


def test_hook_writing_back_is_stopped_by_loop_guard(stash, host: PluginHost, dirs) -> None:
    scene_id = stash.add_scene("x", ["/data/scenes/b.mp4"])
    result = stash.gql("mutation($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }",
                       {"input": {"id": str(scene_id), "title": "loop me"}})
    assert "errors" not in result, result
    # Each hook run writes the scene again with its cookie; the 11th nested run is skipped.
    assert len(records(dirs["plugin"] / "out", "hook")) == MAX_CYCLIC_LOOP_DEPTH
