"""PlexSync.py as Stash runs it: bad input gets one clear error object, never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sandbox.install import install_plugin
from tests.conftest import REPO_ROOT, connection, run_plugin_process


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    return install_plugin(REPO_ROOT, str(tmp_path_factory.mktemp("plugins")), "PlexSync")


def assert_clean_error(proc: subprocess.CompletedProcess, fragment: str) -> dict:
    assert proc.returncode == 0
    lines = proc.stdout.decode("utf-8").splitlines()
    assert len(lines) == 1, proc.stdout
    result = json.loads(lines[0])
    assert set(result) == {"output", "error"}
    assert result["error"] and fragment in result["error"], result
    stderr = proc.stderr.decode("utf-8")
    assert "Traceback" not in stderr
    for line in stderr.splitlines():
        assert line.startswith("\x01") and line[2] == "\x02", repr(line)
    assert sum(1 for line in stderr.splitlines() if line.startswith("\x01e\x02")) == 1
    return result


def hook(ctx: dict, plugin_dir: str) -> dict:
    return {"server_connection": connection(plugin_dir=plugin_dir), "args": {"mode": "hook", "hookContext": ctx}}


@pytest.mark.parametrize("payload, fragment", [
    (b"", "no input"),
    (b"   \n", "no input"),
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not valid UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b'{"server_connection": {"Port": 9999}}', "'args'"),
    (b'{"args": {}}', "server_connection"),
    (b'"text"', "JSON object"),
    (b"[" * 100000, "JSON"),
])
def test_bad_stdin_gets_one_error_object(plugin_dir, payload, fragment):
    assert_clean_error(run_plugin_process(plugin_dir, payload), fragment)


@pytest.mark.parametrize("ctx, fragment", [
    ({"type": "Scene.Update.Post", "input": None}, "no scene id"),
    ({"id": "abc", "type": "Scene.Update.Post", "input": None}, "not a number"),
    ({"id": -4, "type": "Scene.Update.Post", "input": None}, "out of range"),
    ({"id": 10**30, "type": "Scene.Update.Post", "input": None}, "out of range"),
    ({"id": 3, "type": "Scene.Exploded.Post", "input": None}, "unknown hook type"),
    ({"id": 3, "type": None}, "unknown hook type"),
])
def test_bad_hook_context(plugin_dir, ctx, fragment):
    assert_clean_error(run_plugin_process(plugin_dir, hook(ctx, plugin_dir)), fragment)


def test_unknown_task_mode(plugin_dir):
    payload = {"server_connection": connection(plugin_dir=plugin_dir), "args": {"mode": "explode"}}
    result = assert_clean_error(run_plugin_process(plugin_dir, payload), "unknown task mode")
    assert "process" in result["error"]  # the message lists the known modes


def test_hook_with_stash_down_records_the_scene_and_loses_nothing(plugin_dir):
    ctx = {"id": 77, "type": "Scene.Update.Post", "input": None}
    proc = run_plugin_process(plugin_dir, hook(ctx, plugin_dir))
    result = json.loads(proc.stdout)
    assert result["error"] is None and "1 scene(s) recorded" in result["output"]
    assert "Traceback" not in proc.stderr.decode()
    import sqlite3
    conn = sqlite3.connect(os.path.join(plugin_dir, "data", "plexsync.db"))
    assert conn.execute("SELECT count(*) FROM pending WHERE scene_id = 77").fetchone()[0] == 1


def test_import_has_no_side_effects(tmp_path):
    code = ("import sys, os; sys.path.insert(0, %r); import PlexSync; "
            "assert not os.path.exists(os.path.join(%r, 'data'))" % (REPO_ROOT, str(tmp_path)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=str(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"" and proc.stderr == b""


@pytest.mark.parametrize("check", [
    "from hooks.handlers import on_scene_update; import inspect; p = inspect.signature(on_scene_update)"
    ".parameters; assert 'sync_timestamps' in p and 'data_dir' in p",
    "from worker.processor import SyncWorker; import inspect; "
    "assert 'data_dir' in inspect.signature(SyncWorker.__init__).parameters",
    "import PlexSync, inspect; s = inspect.getsource(PlexSync.initialize); "
    "assert 'load_sync_timestamps' in s and 'data_dir' in s",
])
def test_original_plan_checks(check):
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()


def test_initialize_wires_the_data_folder(tmp_path):
    import PlexSync
    runtime = PlexSync.initialize(data_dir=str(tmp_path / "d"))
    try:
        assert runtime.data_dir == str(tmp_path / "d")
        assert os.path.exists(os.path.join(runtime.data_dir, "plexsync.db"))
        assert 5 not in runtime.sync_timestamps
        from queue.operations import save_sync_timestamp
        save_sync_timestamp(runtime.data_dir, 5, 1234.5)
        assert runtime.sync_timestamps[5] == 1234.5
    finally:
        runtime.conn.close()
