"""Issue 5: "Sync all", "Force sync all" and "Sync recent" through the sandbox host, as Stash runs them."""
from __future__ import annotations

from datetime import timedelta

from tests.worker.helpers import db, gql, plex_item_for, plugin_lines, run_task, unambiguous
from worker.reconcile import MARGIN, parse_stash_time, shift_like

RENAME = "mutation($input: PerformerUpdateInput!) { performerUpdate(input: $input) { id } }"


def last_line(sb, prefix: str) -> str:
    lines = [t for t in plugin_lines(sb, "info") if prefix in t]
    assert lines, f"no log line with {prefix!r}"
    return lines[-1]


def synced_ids(sb) -> set[int]:
    conn = db(sb)
    try:
        return {r[0] for r in conn.execute("SELECT scene_id FROM sync_state")}
    finally:
        conn.close()


def test_sync_all_syncs_every_matching_scene_and_a_second_run_makes_no_plex_request(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")
    assert "Sync all: 20 scene(s) checked, 20 queued, 0 unchanged" in last_line(sb, "Sync all:")
    assert "18 synced" in last_line(sb, "Process queue:")
    assert synced_ids(sb) == set(unambiguous(sb))
    for sid in unambiguous(sb):
        expected = sb.stash.scene(sid)
        assert sorted(plex_item_for(sb, sid)["actors"]) == sorted(p["name"] for p in expected["performers"])

    sb.plex.reset_requests()
    drains_before = len([t for t in plugin_lines(sb, "info") if "Process queue:" in t])
    run_task(sb, "Sync all")
    assert sb.plex.request_count() == 0
    line = last_line(sb, "Sync all:")
    assert "0 queued, 18 unchanged, 2 awaiting review; nothing to sync" in line
    # Nothing queued, so no drain either.
    assert len([t for t in plugin_lines(sb, "info") if "Process queue:" in t]) == drains_before


def test_sync_all_catches_a_rename_made_while_the_plugin_was_off(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")
    performer = sb.world.performers["Ava Lindqvist"]
    carrying = {sid for sid in unambiguous(sb)
                if any(p["id"] == performer for p in sb.stash.scene(sid)["performers"])}
    assert carrying
    sb.host.set_enabled("PlexSync", False)  # no hook fires for the rename
    gql(sb, RENAME, {"input": {"id": str(performer), "name": "Ava Lind"}})
    sb.host.set_enabled("PlexSync", True)

    run_task(sb, "Sync all")
    assert f"{len(carrying)} queued, {18 - len(carrying)} unchanged" in last_line(sb, "Sync all:")
    assert f"{len(carrying)} synced" in last_line(sb, "Process queue:")
    for sid in unambiguous(sb):
        actors = plex_item_for(sb, sid)["actors"]
        assert ("Ava Lind" in actors) == (sid in carrying)
        assert "Ava Lindqvist" not in actors


def test_force_sync_all_resends_every_scene(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")
    sb.plex.reset_requests()
    run_task(sb, "Force sync all")
    assert "Force sync all: 20 scene(s) checked, 20 queued" in last_line(sb, "Force sync all:")
    # Forced: the two LOW matches are looked at again, the 18 others are written (poster included).
    assert "18 synced, 0 unchanged" in last_line(sb, "Process queue:")
    uploads = {r["path"] for r in sb.plex.requests if r["method"] == "POST" and r["path"].endswith("/posters")}
    assert len(uploads) == 18


def test_sync_recent_picks_up_a_change_that_fired_no_hook(sandbox):
    sb = sandbox
    run_task(sb, "Sync all")
    run_task(sb, "Sync recent")  # first run: sets the watermark
    assert "Sync recent (first run: every scene)" in last_line(sb, "Sync recent")
    conn = db(sb)
    try:
        watermark = conn.execute("SELECT value FROM state WHERE key = 'sync_recent_watermark'").fetchone()[0]
    finally:
        conn.close()
    assert watermark == max((sb.stash.scene(s)["updated_at"] for s in sb.world.scene_ids), key=parse_stash_time)

    scene = unambiguous(sb)[4]
    sb.stash.advance_clock(5)  # a later second than the sync (no sleeping)
    sb.stash.touch_scene_without_hook(scene, title="Auto Tagged Title")
    assert plex_item_for(sb, scene)["title"] != "Auto Tagged Title"
    run_task(sb, "Sync recent")
    line = last_line(sb, "Sync recent")
    assert f"updated after {shift_like(watermark, -MARGIN)}" in line
    assert plex_item_for(sb, scene)["title"] == "Auto Tagged Title"
    summary = last_line(sb, "Process queue:")
    assert "1 synced" in summary


def test_sync_recent_survives_a_utc_offset_change_between_runs(sandbox):
    """Stash stores updated_at text in the offset of the moment (DST): the margin keeps the TEXT filter
    from missing a row written in a 'smaller' offset than the watermark."""
    sb = sandbox
    run_task(sb, "Sync all")
    first, second = unambiguous(sb)[1], unambiguous(sb)[2]
    sb.stash.utc_offset_minutes = 120          # summer time
    sb.stash.advance_clock(3)
    sb.stash.touch_scene_without_hook(first, title="Summer Edit")
    run_task(sb, "Sync recent")
    assert plex_item_for(sb, first)["title"] == "Summer Edit"
    sb.stash.utc_offset_minutes = 0            # clocks go back: later edits have "earlier" text
    sb.stash.advance_clock(3)
    sb.stash.touch_scene_without_hook(second, title="Winter Edit")
    assert sb.stash.scene(second)["updated_at"] < sb.stash.scene(first)["updated_at"]  # text order lies
    run_task(sb, "Sync recent")
    assert plex_item_for(sb, second)["title"] == "Winter Edit"


def test_shift_like_keeps_the_offset_style_stash_stores():
    assert shift_like("2025-03-02T14:05:09+01:00", -timedelta(hours=2)) == "2025-03-02T12:05:09+01:00"
    assert shift_like("2025-03-02T14:05:09Z", -timedelta(hours=2)) == "2025-03-02T12:05:09Z"
    assert shift_like("garbage", -timedelta(hours=2)) is None
    assert parse_stash_time("2025-03-02T14:05:09+01:00") == parse_stash_time("2025-03-02T13:05:09Z")
    assert parse_stash_time("2025-03-02T14:05:09") is None  # no offset: not an instant


def test_a_read_inside_the_updated_second_counts_as_possibly_stale():
    from datetime import datetime, timezone

    from queue.operations import SyncRecord
    from worker.reconcile import newer_than_sync

    updated = datetime(2026, 11, 25, 17, 0, 9, tzinfo=timezone.utc)  # Stash: second precision
    text = "2026-11-25T17:00:09Z"

    def record(read_at: float) -> SyncRecord:
        return SyncRecord(1, read_at, text, 1001, 1, "h", None)

    # Read at :09.2, an Auto Tag edit at :09.7 keeps the same updated_at text: must be queued again.
    assert newer_than_sync(updated, record(updated.timestamp() + 0.2), True)
    # Read at :10.3: that read saw every edit of second :09.
    assert not newer_than_sync(updated, record(updated.timestamp() + 1.3), True)
    # A newer updated_at always counts.
    later = datetime(2026, 11, 25, 17, 0, 10, tzinfo=timezone.utc)
    assert newer_than_sync(later, record(updated.timestamp() + 5), True)
