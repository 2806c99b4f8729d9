"""worker/deps.py: a task finds its packages in <plugin dir>/py_deps (the README's fallback install), and
names the fix when they are nowhere. Run in `python -S` (no site-packages), as a bare system Python."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

from tests.conftest import REPO_ROOT

PROBE = """
import sys
sys.path.insert(0, {root!r})
from worker.deps import MissingDependencies, ensure_runtime_dependencies
try:
    ensure_runtime_dependencies({plugin_dir!r})
except MissingDependencies as exc:
    print("MISSING", exc)
else:
    import plexapi, persistqueue, stashapi
    print("OK", plexapi.__file__)
"""


def run_probe(plugin_dir: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([sys.executable, "-S", "-c", PROBE.format(root=REPO_ROOT, plugin_dir=plugin_dir)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_py_deps_folder_is_used(tmp_path):
    # Stand-in for `pip install --target <plugin>/py_deps`: the packages this venv already has.
    os.symlink(sysconfig.get_paths()["purelib"], tmp_path / "py_deps")
    out = run_probe(str(tmp_path))
    assert out.startswith("OK"), out
    assert str(tmp_path / "py_deps") in out


def test_missing_packages_name_the_fallback_command(tmp_path):
    out = run_probe(str(tmp_path))
    assert out.startswith("MISSING"), out
    assert "plexapi" in out and "pip install --target" in out
    assert os.path.join(str(tmp_path), "py_deps") in out
