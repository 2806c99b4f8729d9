"""Shared helpers for the reliability suite: Plex-vs-Stash comparison, queue database checks, hook runs."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from typing import Any

from tests.conftest import wait_for
from worker.stash_reader import SCENE_FRAGMENT  # the worker's own query: compare what it reads

PLUGIN_ID = "PlexSync"
PROCESS_QUEUE = "Process queue"

# Plex edit field -> PlexSim snapshot key
_SCALARS = {"title": "title", "summary": "summary", "originallyAvailableAt": "originallyAvailableAt",
            "year": "year", "studio": "studio", "tagline": "tagline", "userRating": "userRating"}
_TAGS = {"director": "directors", "actor": "actors", "genre": "genres", "collection": "collections"}


def settings_of(sb) -> Any:
    from validation.config import load_settings
    return load_settings(sb.stash.plugin_config(PLUGIN_ID)).settings


def merge_config(sb, **values: Any) -> None:
    """set_plugin_config replaces the whole map: merge with what is there."""
    config = sb.stash.plugin_config(PLUGIN_ID)
    config.update(values)
    sb.stash.set_plugin_config(PLUGIN_ID, config)


def stash_scene(sb, scene_id: int) -> dict[str, Any]:
    data = sb.stash.gql("query($id: ID!) { findScene(id: $id) { %s } }" % SCENE_FRAGMENT, {"id": str(scene_id)})
    return data["data"]["findScene"]


def comparable_scene_ids(sb) -> list[int]:
    """Scenes with exactly one Plex item (the seeded LOW-confidence clashes are never synced)."""
    w = sb.world
    skip = {w.clash_both_sections, w.clash_basename}
    return [sid for sid in w.scene_ids if sid not in skip and len(w.scene_rating_keys.get(sid) or []) == 1]


def _norm(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def mismatches(sb, scene_ids: list[int] | None = None) -> list[tuple[int, str, Any, Any]]:
    """(scene id, field, Stash wants, Plex has) for every field where Plex differs from Stash."""
    from validation.metadata import desired_plex_fields
    settings = settings_of(sb)
    out = []
    for sid in scene_ids if scene_ids is not None else comparable_scene_ids(sb):
        desired = desired_plex_fields(stash_scene(sb, sid), settings)
        item = sb.plex.item(sb.world.scene_rating_keys[sid][0])
        for name, value in desired.values.items():
            if name in _SCALARS:
                want, have = _norm(value), _norm(item.get(_SCALARS[name]))
            elif name in _TAGS:
                want, have = sorted(value), sorted(item.get(_TAGS[name]) or [])
            else:
                continue
            if want != have:
                out.append((sid, name, want, have))
    return out


def db_path(sb) -> str:
    return os.path.join(sb.info["data_dir"], "plexsync.db")


def query(path: str, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def integrity(path: str) -> str:
    return query(path, "PRAGMA integrity_check")[0][0]


def pending_ids(sb) -> set[int]:
    return {r[0] for r in query(db_path(sb), "SELECT scene_id FROM pending")}


def queued_jobs(sb) -> list[dict]:
    try:
        rows = query(db_path(sb), "SELECT data FROM ack_queue_jobs WHERE status < 5")
    except sqlite3.OperationalError:
        return []
    return [json.loads(r[0]) for r in rows]


def dead_letter_ids(sb) -> set[int]:
    return {r[0] for r in query(db_path(sb), "SELECT scene_id FROM dead_letters")}


def edit_requests(sb) -> list[dict]:
    """Plex's logged metadata edits (one PUT /library/sections/<id>/all per edit)."""
    return [r for r in list(sb.plex.requests) if r["method"] == "PUT" and r["path"].startswith("/library/sections/")
            and r["path"].endswith("/all")]


def record_pending(sb, scene_ids: list[int], reason: str = "test") -> None:
    """Mark scenes pending the way "Sync all" does (one transaction), without firing hooks."""
    from queue import pending
    from queue.database import connect
    conn = connect(sb.info["data_dir"])
    try:
        pending.record_many(conn, list(scene_ids), reason)
    finally:
        conn.close()


def drain(sb, timeout: float = 120.0, args: dict | None = None) -> str:
    """The user presses "Process queue" and waits for Stash's job queue to empty."""
    job = sb.host.run_task(PLUGIN_ID, PROCESS_QUEUE, args)
    assert sb.host.wait_idle(timeout), "Process queue did not finish in time"
    return job


def plugin_log(sb, start: int = 0) -> list[tuple[str, str]]:
    return [e for e in sb.host.log_snapshot()[start:] if "[Plugin / PlexSync]" in e[1]]


def hook_stdin(sb, scene_id: int, fields: list[str] | None = None, cookie: str | None = None,
               plugin_dir: str | None = None) -> bytes:
    fields = fields or ["title"]
    conn = {"Scheme": "http", "Host": "0.0.0.0", "Port": sb.stash.port, "Dir": sb.stash_dir,
            "PluginDir": plugin_dir or sb.plugin_dir,
            "SessionCookie": {"Name": "session", "Value": cookie} if cookie else None}
    ctx = {"id": scene_id, "type": "Scene.Update.Post", "input": {"id": str(scene_id), **{f: None for f in fields}},
           "inputFields": ["id"] + fields}
    return json.dumps({"server_connection": conn, "args": {"hookContext": ctx}}).encode()


def plugin_env(sb) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), os.path.dirname(sb.plugin_dir)) if p)
    return env


def start_plugin(sb, stdin: bytes, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start PlexSync.py as Stash does and feed stdin (the caller waits or kills it)."""
    proc = subprocess.Popen([sys.executable, os.path.join(sb.plugin_dir, "PlexSync.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=sb.stash_dir,
                            env=env or plugin_env(sb))
    proc.stdin.write(stdin)
    proc.stdin.close()
    return proc


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> tuple[int, bytes, bytes]:
    from sandbox.capture import capture
    try:
        out = proc.stdout.read()
        err = proc.stderr.read()
        rc = proc.wait(timeout)
    finally:
        proc.stdout.close()
        proc.stderr.close()
    capture("stdout", out)
    capture("stderr", err)
    return rc, out, err


__all__ = ["wait_for", "time"]
