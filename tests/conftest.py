"""Shared fixtures: a running sandbox (simulated Plex + Stash + plugin host with PlexSync installed),
and a way to run the plugin exactly as Stash does (its folder first on sys.path, stdin JSON)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Callable

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# `queue` must resolve to PlexSync's stand-in package, which only works when the repo root comes
# first on sys.path before anything imports the standard module (run `python -m pytest` from the root).
import queue as _queue_module  # noqa: E402

if not getattr(_queue_module, "__path__", None):
    raise pytest.UsageError("run the suite as `python -m pytest` from the repository root "
                            "(PlexSync's queue package must shadow the standard library's)")


# --- secrets check over the whole session (issue 6) ------------------------------------------------
# The sandbox host appends every plugin process's raw stdout/stderr and every log viewer line to
# $PLEXSYNC_CAPTURE_DIR (sandbox/capture.py); at the end of the session every secret the sandbox issued
# (Plex token, Stash API key and password, each session cookie) is looked for there; a find fails the run.

def pytest_configure(config) -> None:
    import tempfile
    from sandbox.capture import ENV
    if not os.environ.get(ENV):
        os.environ[ENV] = tempfile.mkdtemp(prefix="plexsync-capture-")


def pytest_sessionfinish(session, exitstatus) -> None:
    from tests.reliability.secrets_scan import scan_capture
    found = scan_capture()
    if found:
        session.exitstatus = 1
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"SECRETS CHECK FAILED: {len(found)} secret occurrence(s) in plugin output: " + "; ".join(found[:10])
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message)


@pytest.fixture
def sandbox(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=20, plex_items=40) as sb:
        yield sb


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def plugin_lines(sb) -> list[tuple[str, str]]:
    return [(entry[0], entry[1]) for entry in sb.host.log_snapshot() if "[Plugin / PlexSync]" in entry[1]]


def run_plugin_process(plugin_dir: str, payload: bytes | str | dict, timeout: float = 60.0,
                       cwd: str | None = None) -> subprocess.CompletedProcess:
    """Start PlexSync.py the way Stash does: `python <dir>/PlexSync.py`, a foreign cwd, the parent of
    the plugin folder on PYTHONPATH, one JSON object on stdin."""
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    env = dict(os.environ)
    parent = os.path.dirname(os.path.abspath(plugin_dir))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), parent) if p)
    proc = subprocess.run([sys.executable, os.path.join(plugin_dir, "PlexSync.py")], input=payload,
                          capture_output=True, timeout=timeout, cwd=cwd or os.path.dirname(parent))
    from sandbox.capture import capture  # the session's secrets check reads everything plugins printed
    capture("stdout", proc.stdout)
    capture("stderr", proc.stderr)
    return proc


def connection(port: int = 1, plugin_dir: str | None = None, cookie: str | None = None) -> dict[str, Any]:
    return {"Scheme": "http", "Host": "0.0.0.0", "Port": port, "Dir": "/tmp",
            "PluginDir": plugin_dir or "/nonexistent",
            "SessionCookie": {"Name": "session", "Value": cookie} if cookie else None}
