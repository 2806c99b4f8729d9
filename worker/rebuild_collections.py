"""The "Rebuild collections" task: bring every collection PlexSync manages back to exactly Stash's view.

Drift it repairs: items added by hand to a managed collection, a managed collection deleted or emptied in
Plex, a collection's poster, summary or order changed by hand. Steps:
1. every managed collection's members that are no synced scene are taken out of it (one item edit each);
2. every managed collection is marked for a check and every scene is queued with force, so the drain
   writes each item's exact collection list (re-creating deleted collections) and the flush puts text,
   poster, custom order back and removes collections left empty.
With dry_run on, step 1 only logs and the drain logs what it would write. Hand-made collections are never
touched (they are not in the managed table).
"""
from __future__ import annotations

import time
from typing import Any

from plex import collections as plex_coll
from plex.client import connect, safe_error_text
from queue import collections as managed
from queue.database import transaction
from stash import log
from stash.graphql import StashClient
from stash.protocol import Invocation
from validation.collections import enabled
from validation.config import Settings
from worker.collections import CollectionSync
from worker.reconcile import _disabled, _queue_and_drain, _remember_run, iter_scene_pages


def rebuild_collections(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    task = "Rebuild collections"
    if (off := _disabled(settings, task)) is not None:
        return off
    if not settings.plex_configured:
        log.warning(settings.missing_plex_message())
        return "Plex not configured"
    started = time.monotonic()
    conn = runtime.conn
    rows = managed.all_rows(conn)
    if not enabled(settings) and not rows:
        log.info(f"{task}: no collection source is on and PlexSync manages no collection; nothing to do")
        return "nothing to do"
    try:
        plex = connect(settings)
        strays = CollectionSync(conn, settings, None).strays(plex)
        for section_id, item_key, name in strays:
            if settings.dry_run:
                log.info(f"dry run: Plex item {item_key} would leave collection '{name}' (no Stash scene puts it "
                         f"there)")
            else:
                plex_coll.remove_from_item(plex, section_id, item_key, name)
                log.info(f"Plex item {item_key} removed from collection '{name}' (no Stash scene puts it there)")
    except Exception as exc:  # noqa: BLE001 - one clear line; nothing was lost, the task can run again
        message = f"{task}: Plex failed: {safe_error_text(exc, settings.plex_token)}"
        log.error(message)
        return message
    with transaction(conn):
        marked = managed.mark_all_dirty(conn)
        managed.forget_scene_hashes(conn)
    ids = [int(scene["id"]) for scene in iter_scene_pages(client, "id")]
    drain = _queue_and_drain(runtime, settings, client, ids, "rebuild-collections", force=True)
    verb = "would be removed" if settings.dry_run else "removed"
    summary = (f"{task}: {len(rows)} managed collection(s), {marked} marked for a check; {len(strays)} stray "
               f"item(s) {verb}; {len(ids)} scene(s) queued to restore exact membership; {drain}; "
               f"in {time.monotonic() - started:.1f} s")
    log.info(summary)
    _remember_run(conn, task, summary)
    return summary
