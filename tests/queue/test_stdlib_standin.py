"""`queue/` shadows the standard library when Stash runs the plugin: everything must still work."""
from __future__ import annotations

import json
import subprocess
import sys

from sandbox.install import install_plugin
from tests.conftest import REPO_ROOT

PROBE = r'''
import json, sys, threading, http.server
sys.path.insert(0, sys.argv[1])          # as `python PlexSync.py` does: the plugin folder first
import queue
assert queue.__file__.startswith(sys.argv[1]), queue.__file__
import urllib3, requests, plexapi.server, stashapi.stashapp, persistqueue
import concurrent.futures, multiprocessing.pool, logging.handlers
from queue import database          # PlexSync's own submodule
from sandbox.plex import PlexSim
from sandbox.stash import StashSim

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/"
results = {}
results["urllib3"] = urllib3.PoolManager().request("GET", url).data.decode()
results["requests"] = requests.get(url, timeout=5).text
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    results["futures"] = sum(pool.map(lambda x: x * 2, [1, 2, 3]))
q = queue.Queue(); q.put(1); results["stdlib_queue"] = q.get_nowait()
try:
    q.get_nowait()
except queue.Empty:
    results["empty"] = True
plex = PlexSim(); plex.start()
results["plexapi"] = plexapi.server.PlexServer(plex.url, plex.token, timeout=5).machineIdentifier == plex.machine_identifier
plex.stop()
stash = StashSim(); stash.start()
results["stashapi"] = bool(stashapi.stashapp.StashInterface({"Host": "127.0.0.1", "Port": stash.port}).version)
stash.stop()
pq = persistqueue.SQLiteAckQueue(sys.argv[2], multithreading=True)
pq.put({"scene_id": 1}); item = pq.get(raw=True); pq.ack(id=item["pqid"])
results["persistqueue"] = item["data"]["scene_id"]
print(json.dumps(results))
'''


def test_libraries_work_when_queue_is_shadowed(tmp_path):
    plugin_dir = install_plugin(REPO_ROOT, str(tmp_path / "plugins"), "PlexSync")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env_path = REPO_ROOT  # for `sandbox` only; the plugin folder still comes first
    proc = subprocess.run([sys.executable, str(probe), plugin_dir, str(tmp_path / "pq")], capture_output=True,
                          timeout=120, cwd=str(tmp_path), env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr.decode()
    results = json.loads(proc.stdout.decode().splitlines()[-1])
    assert results == {"urllib3": "ok", "requests": "ok", "futures": 12, "stdlib_queue": 1, "empty": True,
                       "plexapi": True, "stashapi": True, "persistqueue": 1}


def test_standin_exports_everything_the_standard_module_has():
    import importlib.util
    import sysconfig
    import os
    import queue
    spec = importlib.util.spec_from_file_location("_check_queue", os.path.join(sysconfig.get_path("stdlib"),
                                                                               "queue.py"))
    real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real)
    public = {n for n in dir(real) if not n.startswith("__")}
    assert public <= set(dir(queue))
    assert set(real.__all__) == set(queue.__all__)
    assert queue.SimpleQueue is real.SimpleQueue and queue.Empty is real.Empty
