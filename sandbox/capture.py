"""Capture for the test suite's secrets check (tests/conftest.py, tests/reliability/test_secrets.py).

When PLEXSYNC_CAPTURE_DIR is set, the plugin host appends every plugin process's raw stdout and stderr
and every log viewer line to a file there, and the simulators register every secret they issue (Plex
token, Stash API key and password, each session cookie value minted). Unset: nothing is written.
"""
from __future__ import annotations

import os
import threading

ENV = "PLEXSYNC_CAPTURE_DIR"
ISSUED_SECRETS: set[str] = set()
_lock = threading.Lock()


def register_secret(value: object) -> None:
    text = str(value or "")
    if len(text) >= 4:
        with _lock:
            ISSUED_SECRETS.add(text)


def capture(kind: str, data: bytes | str) -> None:
    """Append one chunk of plugin output (kind: stdout, stderr, log) to this process's capture file."""
    folder = os.environ.get(ENV)
    if not folder or not data:
        return
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    try:
        with _lock, open(os.path.join(folder, f"capture-{os.getpid()}.log"), "ab") as fh:
            fh.write(f"--- {kind}\n".encode() + raw + b"\n")
    except OSError:
        pass
