"""`python -m sandbox up` as a separate process: READY line, both servers answer real clients, clean stop."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from plexapi.server import PlexServer
from stashapi.stashapp import StashInterface

REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0


def read_ready(proc: subprocess.Popen, timeout: float) -> dict:
    """The first stdout line, which must be `READY <json>`, read with a deadline."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no READY line in time"
            if sel.select(remaining):
                chunk = os.read(proc.stdout.fileno(), 65536)
                assert chunk, f"sandbox exited early with {proc.poll()}"
                buf += chunk
    finally:
        sel.close()
    line = buf.split(b"\n", 1)[0].decode()
    assert line.startswith("READY "), line
    return json.loads(line[len("READY "):])


def start_up(tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox", "up", "--dir", str(tmp_path / "sb"), "--scenes", "6",
         "--plex-items", "12", "--quiet", *extra],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=WAIT)
        raise
    finally:
        proc.stdout.close()


def stash_conn(info: dict, **extra) -> dict:
    scheme, rest = info["stash_url"].split("://")
    host, port = rest.split(":")
    return {"Scheme": scheme, "Host": host, "Port": int(port), "Logger": None, **extra}


def test_up_serves_both_servers_until_sigterm(tmp_path: Path) -> None:
    proc = start_up(tmp_path)
    try:
        info = read_ready(proc, WAIT)
        assert set(info) >= {"stash_url", "plex_url", "plex_token", "plugin_dir", "data_dir", "path_map"}
        assert info["path_map"] == "/data/=>/media/"
        assert info["data_dir"] == os.path.join(info["plugin_dir"], "data")

        plex = PlexServer(info["plex_url"], info["plex_token"], timeout=10)
        assert {s.title for s in plex.library.sections()} == {"Scenes", "Archive"}
        assert sum(len(s.all()) for s in plex.library.sections()) == 12

        stash = StashInterface(stash_conn(info))
        scene = stash.find_scene(1)
        assert scene["files"][0]["path"].startswith("/data/scenes/")
        config = stash.find_plugin_config("PlexSync")
        assert config == {"plex_url": info["plex_url"], "plex_token": info["plex_token"],
                          "path_map": "/data/=>/media/"}

        with urllib.request.urlopen(info["plex_url"] + "/sandbox/requests", timeout=10) as resp:
            assert json.loads(resp.read())["total"] > 0
    finally:
        code = stop(proc)
    assert code == 0


def test_up_with_auth_needs_credentials(tmp_path: Path) -> None:
    proc = start_up(tmp_path, "--auth")
    try:
        info = read_ready(proc, WAIT)
        assert info["auth"] is True
        stash = StashInterface(stash_conn(info, ApiKey=info["stash_api_key"]))
        assert stash.find_scene(1)["id"] == "1"
        request = urllib.request.Request(info["stash_url"] + "/graphql", data=b'{"query":"{ version { version } }"}',
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 401
    finally:
        code = stop(proc)
    assert code == 0
