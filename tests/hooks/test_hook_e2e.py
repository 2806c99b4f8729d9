"""The hook as Stash runs it: a mutation fires it, the scene becomes pending, one drain is queued."""
from __future__ import annotations

import json
import os
import subprocess
import sqlite3
import sys

from tests.conftest import connection, wait_for


def pending_ids(sb) -> set[int]:
    conn = sqlite3.connect(os.path.join(sb.info["data_dir"], "plexsync.db"))
    try:
        return {r[0] for r in conn.execute("SELECT scene_id FROM pending")}
    finally:
        conn.close()


def block_job_queue(sb):
    """Occupy Stash's job queue the way a long scan does; returns the event that ends the 'scan'."""
    import threading
    release = threading.Event()
    sb.host._jobs.add("Scanning...", lambda ctx: release.wait(120))
    return release


def queued_drains(sb) -> list[dict]:
    return [j for j in sb.host.job_queue() if "Process queue" in j["description"]]


def test_scene_update_records_and_requests_one_drain(sandbox):
    sb = sandbox
    release = block_job_queue(sb)
    try:
        result = sb.stash.gql('mutation { sceneUpdate(input: {id: "2", title: "Saved"}) { id title } }')
        assert result["data"]["sceneUpdate"]["title"] == "Saved"  # the Save returned
        assert pending_ids(sb) == {2}
        assert len(queued_drains(sb)) == 1
        sb.stash.gql('mutation { sceneUpdate(input: {id: "3", details: "more"}) { id } }')
        assert pending_ids(sb) == {2, 3}
        assert len(queued_drains(sb)) == 1  # the queued drain is remembered (findJob), not requested again
    finally:
        release.set()
    assert sb.host.wait_idle(60)
    assert not pending_ids(sb)
    assert sb.plex.item(sb.world.scene_rating_keys[2][0])["title"] == "Saved"


def test_bulk_edit_of_200_scenes_queues_exactly_one_drain(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=200, plex_items=220) as sb:
        release = block_job_queue(sb)  # as during a scan: hooks must see the drain already queued
        try:
            ids = [str(i) for i in range(1, 201)]
            result = sb.stash.gql('mutation($ids: [ID!]) { bulkSceneUpdate(input: {ids: $ids, director: "Bulk"})'
                                  ' { id } }', {"ids": ids}, timeout=180)  # 200 hooks in series
            assert len(result["data"]["bulkSceneUpdate"]) == 200
            assert pending_ids(sb) == set(range(1, 201))
            assert len(queued_drains(sb)) == 1
        finally:
            release.set()
        assert sb.host.wait_idle(240)
        assert not pending_ids(sb)
        ambiguous = {sb.world.clash_both_sections, sb.world.clash_basename}
        for sid in range(1, 201):
            if sid not in ambiguous:
                assert sb.plex.item(sb.world.scene_rating_keys[sid][0])["directors"] == ["Bulk"], sid


def test_hook_imports_only_the_standard_library(sandbox, tmp_path):
    sb = sandbox
    out = tmp_path / "modules.json"
    stdin = json.dumps({"server_connection": connection(port=sb.stash.port, plugin_dir=sb.plugin_dir),
                        "args": {"mode": "hook", "hookContext": {"id": 3, "type": "Scene.Update.Post",
                                                                 "input": None}}})
    code = ("import sys, json, io; sys.path.insert(0, %r); sys.argv = [%r]; "
            "sys.stdin = io.TextIOWrapper(io.BytesIO(%r)); import PlexSync; PlexSync.main(); "
            "json.dump(sorted(sys.modules), open(%r, 'w'))" % (sb.plugin_dir, sb.plugin_dir + "/PlexSync.py",
                                                              stdin.encode(), str(out)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["error"] is None
    modules = set(json.loads(out.read_text()))
    for heavy in ("plexapi", "requests", "urllib3", "stashapi", "persistqueue"):
        assert heavy not in modules, heavy
    wait_for(lambda: sb.host.wait_idle(0.1), timeout=60)
