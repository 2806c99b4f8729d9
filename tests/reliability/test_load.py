"""Load: 8 concurrent hook processes and the drain they start, 2,000 updates over 500 scenes, while a bulk
edit fires its hooks in series through Stash. Nothing is lost, no "database is locked" reaches the user,
and without any manual step every scene's Plex state ends equal to its last Stash state.
"""
from __future__ import annotations

import collections
import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from sandbox import Sandbox
from tests.reliability import helpers as h
from tests.reliability.report import record_figures

SCENES = 500
UPDATES = 2000
BULK = 200             # updates that come from one bulk edit (hooks in series, inside the mutation)
POOL = 8               # concurrent hook processes
LOCKED = "database is locked"


def test_load_concurrent_hooks_and_drain(tmp_path):
    rng = random.Random(66)
    with Sandbox(str(tmp_path / "sb"), scenes=SCENES, plex_items=SCENES + 20) as sb:
        ids = sb.world.scene_ids
        # Every scene gets updates; each update changes Stash first, then fires the hook (as Stash does).
        # 200 scenes get 3 hook-process updates + the bulk edit, 300 scenes get 4 hook-process updates.
        bulk_ids = rng.sample(ids, BULK)
        pool_updates = [sid for sid in ids for _ in range(UPDATES // SCENES - (sid in bulk_ids))]
        rng.shuffle(pool_updates)
        assert len(pool_updates) + BULK == UPDATES
        results: list[tuple[int, int, bytes, bytes]] = []
        results_lock = threading.Lock()
        counter = iter(range(10**9))

        def one_update(sid: int) -> None:
            n = next(counter)
            field = ("title", "details", "director", "code")[n % 4]
            value = {"title": f"Load {n} — scene {sid} ✨", "details": f"load update {n}\nline two",
                     "director": f"Director {n % 7}", "code": f"LD-{n}"}[field]
            sb.stash.touch_scene_without_hook(sid, **{field: value})
            rc, out, err = h.finish(h.start_plugin(sb, h.hook_stdin(sb, sid, [field])), timeout=120)
            with results_lock:
                results.append((sid, rc, out, err))

        def bulk_edit() -> None:
            # One bulkSceneUpdate over 200 distinct scenes: Stash fires 200 hooks in series, synchronously.
            sb.stash.gql('mutation($ids: [ID!]) { bulkSceneUpdate(input: {ids: $ids, details: "Bulk edited"'
                         ' }) { id } }', {"ids": [str(i) for i in bulk_ids]}, timeout=600)
            bulk_done.append(len(bulk_ids))

        bulk_done: list[int] = []
        hooks_before = len(sb.stash.hook_calls)
        bulk_thread = threading.Thread(target=bulk_edit, daemon=True)
        with ThreadPoolExecutor(POOL) as pool:
            futures = [pool.submit(one_update, sid) for sid in pool_updates[:len(pool_updates) // 2]]
            bulk_thread.start()
            futures += [pool.submit(one_update, sid) for sid in pool_updates[len(pool_updates) // 2:]]
            for f in futures:
                f.result(timeout=600)
        bulk_thread.join(600)
        assert bulk_done, "bulk edit did not finish"
        bulk_hooks = len(sb.stash.hook_calls) - hooks_before
        # No manual step: the drains the hooks requested must finish the job on their own.
        assert sb.host.wait_idle(300)

        # --- what the user could see: every hook result and every plugin log line ---
        failed_results = [json.loads(out or b"{}").get("error") for _sid, rc, out, _err in results
                          if rc != 0 or json.loads(out or b"{}").get("error") is not None]
        stderr_locked = sum(err.decode("utf-8", "replace").lower().count(LOCKED) for *_x, err in results)
        log = sb.host.log_snapshot()
        log_locked = [text for _level, text in log if LOCKED in text.lower()]
        plugin_errors = [text for level, text in log if level == "error"]
        drains = sum(1 for _level, text in log if "Process queue:" in text and "synced" in text)

        comparable = h.comparable_scene_ids(sb)
        final = h.mismatches(sb, comparable)
        lost = sorted({sid for sid, *_ in final})
        figures = dict(scenes=SCENES, updates=len(results) + bulk_done[0], hook_processes_pool=len(results),
                       bulk_edit_hooks=bulk_hooks, concurrent_hook_processes=POOL,
                       failed_hook_results=len(failed_results), locked_in_stderr=stderr_locked,
                       locked_in_log=len(log_locked), error_lines=len(plugin_errors), drain_runs=drains,
                       pending_left=len(h.pending_ids(sb)), queued_left=len(h.queued_jobs(sb)),
                       dead_letters=len(h.dead_letter_ids(sb)), scenes_compared=len(comparable),
                       lost=len(lost), plex_edits=len(h.edit_requests(sb)),
                       integrity=h.integrity(h.db_path(sb)))
        record_figures("load", figures)
        assert failed_results == []
        assert stderr_locked == 0 and log_locked == []
        assert plugin_errors == [], plugin_errors[:5]
        assert bulk_hooks == BULK
        assert not h.pending_ids(sb) and not h.queued_jobs(sb) and not h.dead_letter_ids(sb)
        assert final == [], final[:5]
        assert figures["integrity"] == "ok"
        assert collections.Counter(r[1] for r in results) == {0: len(pool_updates)}
