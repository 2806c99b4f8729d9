"""Issue 3: 8 hook processes at once, 1,600 updates over 200 scenes: each scene pending exactly once,
no "database is locked", nothing lost, one drain requested."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading

from tests.conftest import connection

# Each process runs the real hook path 200 times (stdin JSON -> settings over GraphQL -> SQLite ->
# drain check), with its own connections, as 200 hook processes in a row would.
WORKER = r'''
import io, json, sys
sys.path.insert(0, sys.argv[1])
import PlexSync
port, first = int(sys.argv[2]), int(sys.argv[3])
results = []
for i in range(200):
    scene = (first + i) % 200 + 1
    stdin = json.dumps({"server_connection": json.loads(sys.argv[4]),
                        "args": {"mode": "hook", "hookContext": {"id": scene, "type": "Scene.Update.Post",
                                 "input": {"id": str(scene), "title": f"t{i}"}, "inputFields": ["id", "title"]}}})
    out = io.StringIO()
    PlexSync.run(io.BytesIO(stdin.encode()), out)
    results.append(json.loads(out.getvalue()))
sys.stdout.write(json.dumps(results))
'''


def test_eight_concurrent_hook_processes_1600_updates(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=200, plex_items=200) as sb:
        release = threading.Event()
        sb.host._jobs.add("Scanning...", lambda ctx: release.wait(300))  # drains wait, as behind a scan
        try:
            conn_json = json.dumps(connection(port=sb.stash.port, plugin_dir=sb.plugin_dir))
            procs = [subprocess.Popen([sys.executable, "-c", WORKER, sb.plugin_dir, str(sb.stash.port), str(n * 25),
                                       conn_json], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
                     for n in range(8)]
            outputs = [p.communicate(timeout=600) for p in procs]
            assert all(p.returncode == 0 for p in procs), [e.decode()[-500:] for _o, e in outputs]
            results = [r for out, _err in outputs for r in json.loads(out)]
            stderr = b"".join(err for _out, err in outputs).decode("utf-8", "replace")
            assert len(results) == 1600
            assert all(r["error"] is None for r in results), [r for r in results if r["error"]][:3]
            assert "database is locked" not in stderr and "Traceback" not in stderr
            db = sqlite3.connect(os.path.join(sb.info["data_dir"], "plexsync.db"))
            ids = [r[0] for r in db.execute("SELECT scene_id FROM pending ORDER BY scene_id")]
            assert ids == list(range(1, 201))  # every scene pending exactly once, none lost
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            drains = [j for j in sb.host.job_queue() if "Process queue" in j["description"]]
            assert len(drains) == 1
        finally:
            release.set()
        assert sb.host.wait_idle(300)
