"""Figures the reliability tests measured: printed, and written as JSON for RELIABILITY.md.

Directory: $PLEXSYNC_FIGURES_DIR, else <tmp>/plexsync-reliability. One file per test.
"""
from __future__ import annotations

import json
import os
import tempfile
import time


def figures_dir() -> str:
    folder = os.environ.get("PLEXSYNC_FIGURES_DIR") or os.path.join(tempfile.gettempdir(), "plexsync-reliability")
    os.makedirs(folder, exist_ok=True)
    return folder


def record_figures(name: str, figures: dict) -> None:
    payload = dict(figures, recorded_at=time.strftime("%Y-%m-%d %H:%M:%S"))
    with open(os.path.join(figures_dir(), f"{name}.json"), "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1, sort_keys=True, default=str)
    print(f"\n[reliability] {name}: {json.dumps(payload, sort_keys=True, default=str)}")
