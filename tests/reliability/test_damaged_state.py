"""Damaged state: the queue database truncated, replaced with garbage, read-only; the data folder missing
or unusable. A clear error line; a damaged file is moved aside (never deleted) and work continues with a
fresh database where possible; a database that cannot be written is left untouched and reported."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import threading

import pytest

from sandbox import Sandbox
from tests.reliability import helpers as h
from tests.reliability.report import record_figures

FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    with Sandbox(str(tmp_path_factory.mktemp("damaged") / "sb"), scenes=10, plex_items=20) as sandbox:
        release = threading.Event()  # hold Stash's job queue: these tests look at the hook only
        sandbox.host._jobs.add("Scanning...", lambda ctx: release.wait(300))
        yield sandbox
        release.set()
        for job in sandbox.host.job_queue():
            sandbox.host.stop_job(job["id"])


def hook(sb, sid: int) -> tuple[dict, str]:
    rc, out, err = h.finish(h.start_plugin(sb, h.hook_stdin(sb, sid)))
    assert rc == 0
    assert b"Traceback" not in err
    lines = out.decode().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0]), err.decode("utf-8", "replace")


def fresh_db(sb) -> str:
    path = h.db_path(sb)
    if not os.path.exists(path):
        hook(sb, 1)
    return path


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_database_is_moved_aside_and_work_continues(sb, damage):
    path = fresh_db(sb)
    for old in glob.glob(path + ".damaged-*"):  # from the other parametrisation
        os.remove(old)
    with open(path, "r+b") as fh:
        if damage == "truncated":
            fh.truncate(1500)  # cuts the file mid-page: "database disk image is malformed"
        else:
            fh.seek(0)
            fh.write(os.urandom(8192))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    result, err = hook(sb, 3)
    moved = [m for m in glob.glob(path + ".damaged-*") if not m.endswith(("-wal", "-shm"))]
    error_lines = [line for line in err.splitlines() if line.startswith("\x01e\x02")]
    FIGURES[damage] = {"result_error": result["error"], "moved_aside": len(moved),
                       "error_line": error_lines[0][3:160] if error_lines else None}
    assert result["error"] is None, result
    assert len(moved) == 1 and os.path.getsize(moved[0]) > 0      # kept for the user, not deleted
    assert any("damaged" in line and "moved it to" in line for line in error_lines), err
    assert h.integrity(path) == "ok" and 3 in h.pending_ids(sb)     # a fresh database took the update


def test_read_only_database_gives_a_clear_error_and_is_not_touched(sb):
    path = fresh_db(sb)
    if shutil.which("chattr") is None:
        pytest.skip("chattr not available: root ignores chmod, so read-only cannot be simulated")
    h.query(path, "PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    data_dir = os.path.dirname(path)
    before = open(path, "rb").read()
    moved_before = set(glob.glob(path + ".damaged-*"))  # the damaged-file tests' leftovers
    # Immutable file and folder: even root cannot write (chmod alone does not stop root).
    if subprocess.run(["chattr", "+i", path, data_dir], capture_output=True).returncode != 0:
        pytest.skip("this filesystem does not support chattr +i")
    try:
        result, err = hook(sb, 4)
    finally:
        subprocess.run(["chattr", "-i", path, data_dir], capture_output=True)
    FIGURES["read_only"] = {"result_error": (result["error"] or "")[:160]}
    assert result["error"] and "cannot be used" in result["error"], result
    assert "\x01e\x02" in err
    assert open(path, "rb").read() == before
    assert set(glob.glob(path + ".damaged-*")) == moved_before  # not moved aside: nothing is wrong with it
    assert h.integrity(path) == "ok"


def test_missing_data_folder_is_recreated(sb):
    data_dir = sb.info["data_dir"]
    shutil.rmtree(data_dir)
    result, _err = hook(sb, 5)
    FIGURES["data_folder_missing"] = {"result_error": result["error"], "recreated": os.path.isdir(data_dir)}
    assert result["error"] is None and h.pending_ids(sb) == {5}


def test_unusable_data_folder_gives_a_clear_error(sb):
    data_dir = sb.info["data_dir"]
    shutil.rmtree(data_dir)
    with open(data_dir, "w") as fh:   # a file where the folder should be
        fh.write("not a folder")
    try:
        result, err = hook(sb, 6)
    finally:
        os.remove(data_dir)
    FIGURES["data_folder_is_a_file"] = {"result_error": (result["error"] or "")[:160]}
    assert result["error"] and "data folder" in result["error"] or "cannot be used" in (result["error"] or "")
    assert "\x01e\x02" in err
    record_figures("damaged_state", FIGURES)
