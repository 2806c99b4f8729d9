"""`python -m sandbox demo` runs the whole story through real hooks and tasks and exits 0."""
from __future__ import annotations

import subprocess
import sys

from sandbox import PLEX_TOKEN
from tests.conftest import REPO_ROOT


def test_demo_runs_end_to_end_and_never_prints_the_token():
    proc = subprocess.run([sys.executable, "-m", "sandbox", "demo"],  # the README's command, as is
                          capture_output=True, text=True, timeout=240, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "DEMO PROBLEM" not in out
    for expected in ("sceneUpdate", "bulkSceneUpdate", "performerUpdate", "LOW CONFIDENCE",
                     "scene 1 synced", "Process queue:", "Plex items before -> after", "Harbor Lights"):
        assert expected in out, expected
    assert PLEX_TOKEN not in out and PLEX_TOKEN not in proc.stderr
