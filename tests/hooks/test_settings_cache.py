"""Scene hooks reuse the settings the previous hook read for a few seconds (hooks/settings_cache.py), and
the drain request remembers a job seen waiting in Stash's queue, so most hooks of a bulk edit never reach
the network; a settings change still reaches hooks once the cached copy is older than CACHE_SECONDS."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from hooks import settings_cache
from queue import drain_request
from queue.database import connect, get_state
from tests.conftest import connection
from tests.worker.helpers import configure
from validation.config import load_settings


@pytest.fixture
def conn(tmp_path):
    c = connect(str(tmp_path))
    yield c
    c.close()


def test_cached_settings_live_for_cache_seconds_and_hold_no_secret(conn):
    settings = load_settings({"plex_url": "http://plex:32400", "plex_token": "sEcReT-token", "pause_sync": False,
                              "debug_logging": True}).settings
    settings_cache.store(conn, settings, now=1000.0)
    cached = settings_cache.load(conn, now=1000.0 + settings_cache.CACHE_SECONDS - 0.1)
    assert cached is not None
    assert (cached.enabled, cached.plex_configured, cached.debug_logging, cached.verify_stash_tls) == \
        (True, True, True, False)
    assert cached.missing_plex_message() is None
    assert settings_cache.load(conn, now=1000.0 + settings_cache.CACHE_SECONDS) is None  # stale
    assert settings_cache.load(conn, now=999.0) is None  # the clock went back: not trusted
    assert "sEcReT" not in get_state(conn, settings_cache.CACHE_KEY)


def test_cached_settings_keep_the_plex_not_configured_message(conn):
    settings = load_settings({"pause_sync": True}).settings
    settings_cache.store(conn, settings, now=5.0)
    cached = settings_cache.load(conn, now=5.5)
    assert not cached.enabled and not cached.plex_configured
    assert cached.missing_plex_message() == settings.missing_plex_message()


def test_a_job_seen_waiting_spares_stash_the_next_checks(conn):
    asked: list[str] = []

    def active(job_id: str) -> bool:
        asked.append(job_id)
        return True

    assert drain_request.claim(conn, active, now=100.0)
    drain_request.record_job(conn, "7")
    assert not drain_request.claim(conn, active, now=110.0) and asked == ["7"]  # asked Stash
    drain_request.seen_waiting(conn, "7", now=110.0)
    assert not drain_request.claim(conn, active, now=112.0) and asked == ["7"]  # remembered, not asked
    assert not drain_request.claim(conn, active, now=110.0 + drain_request.RECENT_SECONDS) and asked == ["7", "7"]
    drain_request.seen_waiting(conn, "6", now=120.0)  # another job's sighting says nothing about job 7
    assert not drain_request.claim(conn, active, now=121.0) and asked == ["7", "7", "7"]


def _hook(sb, scene_id: int, fields: dict) -> dict:
    plugin = sb.host.plugins["PlexSync"]
    hook = plugin.hooks_for("Scene.Update.Post")[0]
    argv, env = sb.host.build_command(plugin, hook.exec_args)
    args = dict(hook.default_args)
    args["hookContext"] = {"id": scene_id, "type": "Scene.Update.Post", "input": {"id": str(scene_id), **fields},
                           "inputFields": ["id", *fields]}
    payload = json.dumps(sb.host.build_input(plugin, args, [("PlexSync", "Scene.Update.Post")])).encode()
    proc = subprocess.run(argv, input=payload, capture_output=True, env=env, cwd=sb.host.stash_dir, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_settings_change_reaches_hooks_once_the_cached_copy_is_stale(sandbox):
    from queue import lease
    sb = sandbox
    db = connect(sb.info["data_dir"])
    owner = lease.new_owner()
    try:
        lease.acquire(db, owner, ttl=120)  # a drain "runs": hooks record and leave the work to it
        assert _hook(sb, 1, {"title": "one"})["output"] == "1 scene(s) recorded; drain running"
        configure(sb, pause_sync=True)
        # Within the cache's life the hook acts on the copy it has (README: within 3 seconds); the copy is
        # refreshed here so a slow machine cannot let it age between the first hook and this one.
        settings_cache.store(db, load_settings({"plex_url": "http://p:1", "plex_token": "t0ken"}).settings)
        assert _hook(sb, 2, {"title": "two"})["output"] == "1 scene(s) recorded; drain running"
        # Once the copy is older than CACHE_SECONDS the next hook reads Stash again and sees the change.
        stale = load_settings({}).settings
        settings_cache.store(db, stale, now=time.time() - settings_cache.CACHE_SECONDS - 1)
        assert "recorded" not in _hook(sb, 3, {"title": "three"})["output"]   # "sync disabled" / "paused"
        assert "recorded" not in _hook(sb, 4, {"title": "four"})["output"]    # now cached as off
        assert not {3, 4} & {r[0] for r in db.execute("SELECT scene_id FROM pending")}
    finally:
        lease.release(db, owner)
        db.close()
        configure(sb, pause_sync=False)


def test_a_hook_with_cached_settings_loads_no_http_client_or_dataclasses(sandbox, tmp_path):
    """What the hook costs is mostly imports; the usual hook of a burst needs none of these."""
    from queue import lease
    sb = sandbox
    db = connect(sb.info["data_dir"])
    owner = lease.new_owner()
    lease.acquire(db, owner, ttl=120)
    settings_cache.store(db, load_settings({"plex_url": "http://p:1", "plex_token": "t0ken"}).settings)
    out = tmp_path / "modules.json"
    stdin = json.dumps({"server_connection": connection(port=sb.stash.port, plugin_dir=sb.plugin_dir),
                        "args": {"mode": "hook", "hookContext": {"id": 3, "type": "Scene.Update.Post",
                                                                 "input": {"id": "3", "title": "t"},
                                                                 "inputFields": ["id", "title"]}}})
    code = ("import sys, json, io; sys.path.insert(0, %r); sys.argv = [%r]; "
            "sys.stdin = io.TextIOWrapper(io.BytesIO(%r)); import PlexSync; PlexSync.main(); "
            "json.dump(sorted(sys.modules), open(%r, 'w'))" % (sb.plugin_dir, sb.plugin_dir + "/PlexSync.py",
                                                              stdin.encode(), str(out)))
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                              cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": ""})
    finally:
        lease.release(db, owner)
        db.close()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == "1 scene(s) recorded; drain running"
    modules = set(json.loads(out.read_text()))
    for heavy in ("http.client", "urllib.request", "ssl", "dataclasses", "typing", "validation.config",
                  "threading", "uuid", "socket", "_plexsync_stdlib_queue"):
        assert heavy not in modules, heavy
