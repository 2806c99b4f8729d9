"""The "Coverage report" task end to end: run through the plugin host, page served by the sandbox Stash
at the address the log line gives, loaded in headless Chromium; checks what a person sees."""
from __future__ import annotations

import html
import json
import os
import re
import shutil

from plex.pin import item_url
from queue import dead_letters
from queue.database import connect, transaction
from tests.browser import dump_dom, screenshot
from tests.conftest import REPO_ROOT
from tests.worker.helpers import configure, gql, plugin_lines, record_pending, run_task, unambiguous, update_scene

ARTIFACTS = os.path.join(REPO_ROOT, ".artifacts")   # in .gitignore; CI may keep it
DOCS_IMAGE = os.path.join(REPO_ROOT, "docs", "coverage.png")


def _report_line(sb) -> str:
    lines = [t for t in plugin_lines(sb, "info") if "Coverage report:" in t]
    assert lines, "no Coverage report line in the log viewer"
    return lines[-1]


def _filter_count(dom: str, state: str) -> int:
    m = re.search(rf'data-state="{state}"[^>]*>.*?<b>(\d+)</b>', dom)
    assert m, f"no filter button for {state}"
    return int(m.group(1))


def _rows(dom: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(0) for m in re.finditer(r'<div class="row" data-scene="(\d+)">.*?</div>', dom)}


def _href(row: str, cls: str) -> str:
    m = re.search(rf'<a class="{cls}"[^>]*href="([^"]+)"', row)
    assert m, f"no {cls} link in {row[:200]}"
    return html.unescape(m.group(1))


def _scene_world(sb) -> dict[str, int]:
    """Every state the page shows, made through the real interfaces (sync, Plex edit, Stash edit)."""
    ids = unambiguous(sb)
    record_pending(sb, sb.world.scene_ids)
    run_task(sb, "Process queue")
    drift, changed, queued = ids[0], ids[1], ids[2]
    rk = sb.world.scene_rating_keys[drift][0]
    sb.plex.edit_item(rk, title="Renamed in Plex Web")            # a Plex-side edit despite the lock
    sb.stash.touch_scene_without_hook(changed, title="Renamed by a plugin without a hook")
    record_pending(sb, [queued])
    dead = sb.stash.add_scene("No such file in Plex", files=["/data/scenes/Nowhere/nowhere-1.mp4"])
    never = sb.stash.add_scene("Not processed yet", files=["/data/scenes/Nowhere/nowhere-2.mp4"])
    conn = connect(sb.info["data_dir"])
    try:
        with transaction(conn):
            dead_letters.add(conn, dead, "no Plex item has the file /media/scenes/Nowhere/nowhere-1.mp4", 8,
                             {"scene_id": dead})
    finally:
        conn.close()
    return {"drift": drift, "drift_rk": rk, "changed": changed, "queued": queued, "dead": dead, "never": never}


def test_coverage_page_in_a_browser(sandbox, tmp_path):
    sb = sandbox
    world = _scene_world(sb)
    low = sorted(sid for sid in (sb.world.clash_both_sections, sb.world.clash_basename) if sid)
    plex_before = len(sb.plex.requests)

    job = run_task(sb, "Coverage report")
    assert job["status"] == "FINISHED" and not job.get("error")
    line = _report_line(sb)
    address = re.search(r"open (\S+) ", line).group(1)
    assert address == f"{sb.stash.url}/plugin/PlexSync/assets/coverage/"
    assert "1 drifted in Plex" in line and "2 low confidence" in line and "1 dead letter" in line
    # Drift is read back in batches: 16 synced items in one /library/metadata/k1,k2,... request.
    metadata_gets = [e for e in sb.plex.requests[plex_before:]
                     if e["method"] == "GET" and e["path"].startswith("/library/metadata/")]
    assert len(metadata_gets) == 1 and metadata_gets[0]["path"].count(",") == 15

    dom = dump_dom(address)
    total = len(sb.world.scene_ids) + 2
    assert f"{total} scenes" in dom and "1 drifted in Plex" in dom
    counts = {state: _filter_count(dom, state) for state in (
        "all", "synced", "changed", "pending", "low_confidence", "dead_letter", "never_matched", "out_of_scope",
        "waiting", "drift")}
    assert counts == {"all": total, "synced": total - 6, "changed": 1, "pending": 1, "low_confidence": 2,
                      "dead_letter": 1, "never_matched": 1, "out_of_scope": 0, "waiting": 0, "drift": 1}
    assert f"Showing {total} of {total} scenes" in dom
    assert dom.count("<rect ") >= 5, "the studio bar chart is drawn"

    # A filter: only the two low-confidence scenes, each with the review line naming its candidates.
    dom_low = dump_dom(address + "#state=low_confidence")
    assert f"Showing 2 of {total} scenes" in dom_low
    rows = _rows(dom_low)
    assert sorted(rows) == low
    assert all("Plex candidates" in row or "candidates" in row for row in rows.values())

    # The drifted scene: named field, links to the scene in Stash and to the item in Plex Web.
    dom_drift = dump_dom(address + "#state=drift")
    rows = _rows(dom_drift)
    assert list(rows) == [world["drift"]]
    row = rows[world["drift"]]
    assert "drift: title" in row
    assert _href(row, "stash") == f"{sb.stash.url}/scenes/{world['drift']}"
    assert _href(row, "plex") == item_url(sb.plex.machine_identifier, world["drift_rk"])

    shot = screenshot(address, str(tmp_path / "coverage.png"))
    os.makedirs(ARTIFACTS, exist_ok=True)
    shutil.copy(shot, os.path.join(ARTIFACTS, "coverage.png"))
    if os.environ.get("PLEXSYNC_DOCS_SCREENSHOT"):  # refresh the README's image on purpose only
        shutil.copy(shot, DOCS_IMAGE)


def _rows_by_state(sb) -> tuple[dict[int, tuple[str, str]], list]:
    with open(os.path.join(sb.info["data_dir"], "coverage", "coverage.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    states = [s[0] for s in data["states"]]
    return {row[0]: (states[row[3]], row[6]) for row in data["rows"]}, data["rows"]


def test_paused_sync_puts_every_scene_out_of_scope(sandbox):
    sb = sandbox
    configure(sb, pause_sync=True)
    run_task(sb, "Coverage report")
    by_id, rows = _rows_by_state(sb)
    assert len(rows) == len(sb.world.scene_ids)
    assert set(by_id.values()) == {("out_of_scope", "sync is paused (Pause sync is on)")}
    assert f"{len(sb.world.scene_ids)} out of scope" in _report_line(sb)


def test_a_scope_gate_shows_its_reason_and_an_excluded_tag_is_not_drift(sandbox):
    sb = sandbox
    organized = unambiguous(sb)[:3]
    for sid in organized:
        update_scene(sb, sid, organized=True, tag_ids=[str(sb.world.tags["Night"])])
    assert sb.host.wait_idle(120)
    # Gate on organized scenes; the tag synced above is now excluded, and Plex still has it: the worker
    # would send the removal, so the scene reads "changed since sync", not "synced".
    configure(sb, only_organized=True)
    run_task(sb, "Coverage report")
    by_id, _rows = _rows_by_state(sb)
    scenes = gql(sb, "{ findScenes(filter: {per_page: -1}) { scenes { id organized } } }")["findScenes"]["scenes"]
    in_scope = {int(scene["id"]) for scene in scenes if scene["organized"]}
    assert set(organized) <= in_scope and len(in_scope) < len(scenes)
    for sid in sb.world.scene_ids:
        if sid in in_scope:
            assert by_id[sid][0] != "out_of_scope", sid
        else:
            assert by_id[sid] == ("out_of_scope", "not organized (setting only_organized)"), sid
    configure(sb, exclude_tags="Night")
    run_task(sb, "Coverage report")
    by_id, _rows = _rows_by_state(sb)
    assert all(by_id[sid][0] == "changed" for sid in organized), [by_id[sid] for sid in organized]


def test_fifty_thousand_rows_draw_only_what_is_in_view(sandbox):
    """A 50,000-scene page, written by the task's own page writer, loads with only the visible rows in the DOM."""
    from worker.coverage import STATES, Report, Row
    from worker.coverage_page import write_page

    sb = sandbox
    keys = [key for key, _label, _meaning in STATES]
    rows = [Row(i, f"Scene {i}", f"Studio {i % 40}", keys[i % len(keys)], 1000 + i) for i in range(1, 50_001)]
    write_page(sb.info["data_dir"], Report(rows=rows, machine_identifier=sb.plex.machine_identifier), STATES)
    dom = dump_dom(f"{sb.stash.url}/plugin/PlexSync/assets/coverage/")
    assert "Showing 50000 of 50000 scenes" in dom
    assert _filter_count(dom, "all") == 50_000 and _filter_count(dom, "synced") == 6250
    drawn = _rows(dom)
    assert 10 <= len(drawn) <= 100 and min(drawn) == 1
    assert "15 other studios" in dom  # the chart keeps the 25 largest studios and sums the rest


def test_plex_unreachable_still_writes_the_page_and_says_why(sandbox):
    sb = sandbox
    record_pending(sb, sb.world.scene_ids)
    run_task(sb, "Process queue")
    sb.plex.stop()  # Plex is down: states still come from the queue database and Stash
    job = run_task(sb, "Coverage report")
    assert job["status"] == "FINISHED" and not job.get("error")
    line = _report_line(sb)
    assert "18 synced" in line and "Plex not read back (" in line
    with open(os.path.join(sb.info["data_dir"], "coverage", "coverage.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    assert data["drift_checked"] is False and data["plex_problem"]
    assert not any(row[5] for row in data["rows"])
    assert sb.info["plex_token"] not in json.dumps(data) and sb.info["plex_token"] not in line


def test_a_scheduled_retry_shows_as_waiting_for_plex(sandbox):
    import time

    from worker.jobs import JobQueue, new_job

    sb = sandbox
    scene = sb.world.scene_ids[0]
    job = dict(new_job(scene, "hook"), attempt=2, not_before=time.time() + 3600,
               last_error="no Plex item has the file /media/scenes/x.mp4")
    jobs = JobQueue(sb.info["data_dir"])  # as a drain that scheduled the retry left it
    try:
        jobs.put(job)
    finally:
        jobs.close()
    run_task(sb, "Coverage report")
    with open(os.path.join(sb.info["data_dir"], "coverage", "coverage.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    states = [s[0] for s in data["states"]]
    row = next(r for r in data["rows"] if r[0] == scene)
    assert states[row[3]] == "waiting" and "no Plex item has the file" in row[6]
    assert "1 waiting for Plex" in _report_line(sb)
