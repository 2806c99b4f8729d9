"""Sync all over several findScenes pages (500 a page), with the next page requested while this one is
hashed (worker/scene_pages.py): a Stash failure in the middle, and edits made during the listing."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.worker.helpers import configure, db, plex_item_for, plugin_lines, run_task

SCENES = 1100  # three pages: 500, 500, 100


def _page(body: dict) -> int | None:
    """The page number of a Sync all / Sync recent listing request, None for any other request."""
    if "PlexSyncSceneList" not in (body.get("query") or ""):
        return None
    return int(((body.get("variables") or {}).get("f") or {}).get("page") or 1)


def _pending(sb) -> set[int]:
    conn = db(sb)
    try:
        return {r[0] for r in conn.execute("SELECT scene_id FROM pending")}
    finally:
        conn.close()


@pytest.fixture
def big(tmp_path) -> Iterator:
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=SCENES, plex_items=SCENES) as sb:
        yield sb


def test_stash_failing_mid_listing_gives_one_error_line_and_queues_nothing(big):
    sb = big
    configure(sb, plex_url="")  # no drain: this test is about the listing
    requested: list[int] = []

    def fail_on_page_two(body: dict) -> int | None:
        page = _page(body)
        if page is not None:
            requested.append(page)
        return 500 if page == 2 else None

    sb.stash.intercept_graphql(fail_on_page_two)
    job = run_task(sb, "Sync all")
    sb.stash.intercept_graphql(None)

    assert requested == [1, 2]  # page 3 is never asked for
    errors = [t for t in plugin_lines(sb, "error")]
    assert errors == [f"[Plugin / PlexSync] PlexSync: Stash answered HTTP 500 at {sb.stash.url}/graphql"]
    assert job["status"] == "FINISHED"  # as before: the task reports the error in its output, not a crash
    assert not [t for t in plugin_lines(sb, "info") if "Sync all:" in t]
    assert _pending(sb) == set()  # the first page was sorted, but nothing is recorded for a half listing

    run_task(sb, "Sync all")  # Stash is fine again: the whole library is listed
    line = [t for t in plugin_lines(sb, "info") if "Sync all:" in t][-1]
    assert f"Sync all: {SCENES} scene(s) checked, {SCENES} queued, 0 unchanged" in line
    assert _pending(sb) == set(sb.world.scene_ids)


def test_every_scene_is_checked_once_when_scenes_change_during_the_listing(big):
    sb = big
    run_task(sb, "Sync all", timeout=600)  # first sync: every scene gets its sync state
    first, second, third = sb.world.scene_ids[10], sb.world.scene_ids[600], sb.world.scene_ids[1050]

    def edit_while_listing(body: dict) -> None:
        # Runs when the second page is asked for: the first page is in PlexSync's hands (not hashed
        # yet, since the second is requested as soon as the first arrives), the others are not built.
        if _page(body) == 2:
            sb.stash.advance_clock(5)
            for sid in (first, second, third):  # hook-less edits, like Auto Tag
                sb.stash.touch_scene_without_hook(sid, title=f"Edited during listing {sid}")
        return None

    sb.stash.intercept_graphql(edit_while_listing)
    run_task(sb, "Sync all")
    sb.stash.intercept_graphql(None)
    lines = [t for t in plugin_lines(sb, "info") if "Sync all:" in t]
    # Each scene checked once; the two edited scenes not listed yet are queued and synced. The one on
    # the page already in hand was compared as it was when listed: the next look catches it.
    assert f"Sync all: {SCENES} scene(s) checked, 2 queued, {SCENES - 4} unchanged, 2 awaiting review" in lines[-1]
    assert plex_item_for(sb, second)["title"] == f"Edited during listing {second}"
    assert plex_item_for(sb, third)["title"] == f"Edited during listing {third}"
    assert plex_item_for(sb, first)["title"] != f"Edited during listing {first}"

    run_task(sb, "Sync all")
    lines = [t for t in plugin_lines(sb, "info") if "Sync all:" in t]
    assert f"Sync all: {SCENES} scene(s) checked, 1 queued, {SCENES - 3} unchanged" in lines[-1]
    assert plex_item_for(sb, first)["title"] == f"Edited during listing {first}"
