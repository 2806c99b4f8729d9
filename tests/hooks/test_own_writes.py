"""The hook skips exactly PlexSync's own Plex-link write and lets scope gate fields through."""
from __future__ import annotations

import pytest

from hooks.handlers import on_scene_update
from plex.pin import item_url
from queue import pending
from queue.database import connect, set_state, transaction
from queue.operations import save_sync_timestamp
from queue.pending import PendingSet
from validation.config import Settings

MACHINE = "a1b2c3d4e5f6"


@pytest.fixture
def synced(tmp_path):
    """A queue database where scene 7 is synced to Plex item 42 of server MACHINE."""
    conn = connect(str(tmp_path))
    with transaction(conn):
        set_state(conn, "plex_machine_identifier", MACHINE)
    save_sync_timestamp(str(tmp_path), 7, 1.0, conn=conn, rating_key=42, section_id=1, content_hash="h")
    yield str(tmp_path), conn
    conn.close()


def bulk_add(urls, fields=("ids", "urls")):
    return {"type": "Scene.Update.Post", "input": {"ids": ["7"], "urls": {"values": urls, "mode": "ADD"}},
            "inputFields": list(fields)}


def test_own_link_write_is_skipped(synced):
    data_dir, conn = synced
    assert not on_scene_update(7, bulk_add([item_url(MACHINE, 42)]), PendingSet(conn), data_dir=data_dir)
    assert pending.count(conn) == 0


@pytest.mark.parametrize("data", [
    bulk_add([item_url(MACHINE, 43)]),                                   # a pin to another item
    bulk_add([item_url("otherserver", 42)]),                             # another Plex server
    bulk_add([item_url(MACHINE, 42), "https://example.invalid/x"]),      # more than our link
    bulk_add([item_url(MACHINE, 42)], fields=("ids", "urls", "title")),  # a URL change and something else
    {"type": "Scene.Update.Post", "input": {"id": "7", "urls": [item_url(MACHINE, 42)]},
     "inputFields": ["id", "urls"]},                                     # the user's own Save (SET)
])
def test_anything_else_touching_urls_is_recorded(synced, data):
    data_dir, conn = synced
    assert on_scene_update(7, data, PendingSet(conn), data_dir=data_dir)


def test_an_unsynced_scene_is_recorded_even_for_a_link_shaped_update(synced):
    data_dir, conn = synced
    data = bulk_add([item_url(MACHINE, 42)])
    data["input"]["ids"] = ["8"]
    assert on_scene_update(8, data, PendingSet(conn), data_dir=data_dir)


@pytest.mark.parametrize("field, settings", [("organized", Settings(only_organized=True)),
                                             ("stash_ids", Settings(only_with_stash_id=True))])
def test_a_gate_field_counts_only_while_its_gate_is_on(synced, field, settings):
    data_dir, conn = synced
    data = {"type": "Scene.Update.Post", "input": {"id": "9"}, "inputFields": ["id", field]}
    assert not on_scene_update(9, data, PendingSet(conn), data_dir=data_dir, settings=Settings())
    assert on_scene_update(9, data, PendingSet(conn), data_dir=data_dir, settings=settings)
