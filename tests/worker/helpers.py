"""Helpers for end-to-end worker tests: edit through Stash's GraphQL API, run tasks, read the queue DB."""
from __future__ import annotations

import base64
import os
import sqlite3
from typing import Any

UPDATE = "mutation($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK = "mutation($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"


def gql(sb, query: str, variables: dict | None = None) -> dict:
    # A bulk mutation runs one hook process per scene, in series, before it answers (as Stash does).
    result = sb.stash.gql(query, variables, timeout=180)
    assert not result.get("errors"), result.get("errors")
    return result["data"]


def update_scene(sb, scene_id: int, **fields: Any) -> None:
    gql(sb, UPDATE, {"input": dict(id=str(scene_id), **fields)})


def bulk_update(sb, ids: list[int], **fields: Any) -> None:
    gql(sb, BULK, {"input": dict(ids=[str(i) for i in ids], **fields)})


def configure(sb, **values: Any) -> None:
    """configurePlugin replaces the whole map, so merge with what is stored."""
    sb.stash.set_plugin_config("PlexSync", dict(sb.stash.plugin_config("PlexSync"), **values))


def run_task(sb, name: str, timeout: float = 180, args: dict | None = None) -> dict:
    job_id = sb.host.run_task("PlexSync", name, args)
    assert sb.host.wait_idle(timeout), f"task {name} did not finish"
    return sb.host.find_job(job_id)


def plugin_texts(sb) -> list[str]:
    return [text for _level, text in sb.host.log_snapshot() if "[Plugin / PlexSync]" in text]


def plugin_lines(sb, level: str) -> list[str]:
    return [text for lvl, text in sb.host.log_snapshot() if lvl == level and "[Plugin / PlexSync]" in text]


def db(sb) -> sqlite3.Connection:
    return sqlite3.connect(os.path.join(sb.info["data_dir"], "plexsync.db"))


def count(sb, table: str) -> int:
    conn = db(sb)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def record_pending(sb, ids: list[int], force: bool = False) -> None:
    from queue import pending
    from queue.database import connect
    conn = connect(sb.info["data_dir"])
    try:
        pending.record_many(conn, ids, "test", force=force)
    finally:
        conn.close()


def png_data_url(rgb: tuple[int, int, int]) -> tuple[str, bytes]:
    from sandbox.seed import tiny_png
    data = tiny_png(rgb)
    return "data:image/png;base64," + base64.b64encode(data).decode(), data


def plex_item_for(sb, scene_id: int) -> dict:
    return sb.plex.item(sb.world.scene_rating_keys[scene_id][0])


def unambiguous(sb) -> list[int]:
    clashes = {sb.world.clash_both_sections, sb.world.clash_basename}
    return [sid for sid in sb.world.scene_ids if sid not in clashes]
