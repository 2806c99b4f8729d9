"""Headless Chromium for page tests: the DOM after the page's scripts ran, and a screenshot.

Uses the `chromium` binary's own --dump-dom / --screenshot with a virtual time budget (the page's fetch
and rendering finish inside it), so no Python driver is needed. Flags are the ones that work here as
root on a closed network (no sandbox, no background networking, a fresh profile each run).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

INSTALL_HINT = "apt-get install -y chromium chromium-driver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=10000")


def chromium() -> str:
    """The Chromium binary, or skip the test with a one-line reason saying how to install it."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"Chromium is not installed; install it with `{INSTALL_HINT}` to run the browser test")


def _run(args: list[str], timeout: float = 120) -> str:
    with tempfile.TemporaryDirectory(prefix="plexsync-chromium-") as profile:
        out = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                             text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"chromium failed ({out.returncode}): {out.stderr[-2000:]}"
    return out.stdout


def dump_dom(url: str) -> str:
    """The serialized DOM once the page's scripts ran (what a person would see, as HTML)."""
    return _run(["--dump-dom", url])


def screenshot(url: str, path: str, size: tuple[int, int] = (1280, 900)) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _run([f"--window-size={size[0]},{size[1]}", f"--screenshot={path}", url])
    assert os.path.getsize(path) > 1000, "empty screenshot"
    return path
