"""PlexSync: push Stash scene metadata to Plex. Entry point Stash runs for every hook and task.

Reads one JSON object from stdin, dispatches the hook or task, prints exactly one JSON object on stdout.
Importing this module has no side effects; `main()` does the work. The hook path imports only the
standard library (plexapi, requests, stashapi and persistqueue load only inside tasks), and of that only
what a Save needs: the user waits for one hook process per scene, so every import here is paid per scene
(bench/hook_latency.py). Typing, dataclasses, the settings parser and the HTTP client load on use.
"""
from __future__ import annotations

import io
import sys

from queue.errors import DatabaseUnavailable
from stash import log
from stash.graphql import StashClient, StashError
from stash.protocol import InputError, Invocation, read_invocation, write_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from queue.pending import PendingSet
    from validation.config import LoadedSettings, Settings

SCENE_HOOKS = ("Scene.Update.Post", "Scene.Create.Post")
ENTITY_HOOKS = ("Performer.Update.Post", "Studio.Update.Post", "Tag.Update.Post", "Group.Update.Post")
DESTROY_HOOK = "Scene.Destroy.Post"


class UsageError(ValueError):
    """A hook or task invocation PlexSync cannot act on; the message goes to the user as is."""


class Runtime:
    """What one invocation works with: the data folder, its queue database and sync timestamps."""

    def __init__(self, data_dir: str, conn: Any, queue: PendingSet, sync_timestamps: Any,
                 dead_letter_queue: Any, worker: Any = None) -> None:
        self.data_dir = data_dir
        self.conn = conn
        self.queue = queue
        self.sync_timestamps = sync_timestamps
        self.dead_letter_queue = dead_letter_queue
        self.worker = worker  # the SyncWorker class for tasks (the drain starts it under its lease)


def initialize(config_dict: dict[str, Any] | None = None, data_dir: str | None = None,
               with_worker: bool = False, invocation: Invocation | None = None) -> Runtime:
    """Open the queue database, load the sync timestamps and hand the data folder to the hook handler
    and (for tasks) the worker, as the original plan wires it."""
    # Imported here: a hook that records nothing never loads sqlite3 (bench/hook_latency.py).
    from queue.database import connect, default_data_dir  # noqa: PLC0415
    from queue.operations import load_sync_timestamps  # noqa: PLC0415
    from queue.pending import PendingSet  # noqa: PLC0415
    config_dict = config_dict or {}
    data_dir = data_dir or config_dict.get("data_dir") or default_data_dir(
        invocation.connection.plugin_dir if invocation else None)
    conn = connect(data_dir, on_recover=log.error)
    sync_timestamps = load_sync_timestamps(data_dir, conn=conn)
    from queue import dead_letters  # noqa: PLC0415 - sqlite only, kept next to its use
    runtime = Runtime(data_dir=data_dir, conn=conn, queue=PendingSet(conn), sync_timestamps=sync_timestamps,
                      dead_letter_queue=dead_letters)
    if with_worker:
        # The worker needs plexapi and persistqueue; only tasks pay for those imports.
        from worker.processor import SyncWorker  # noqa: PLC0415
        runtime.worker = SyncWorker  # constructed by the drain with the job queue it opens under the lease
    return runtime


def read_settings(client: StashClient) -> LoadedSettings:
    from validation.config import load_settings  # noqa: PLC0415 - most hooks use the cached settings
    loaded = load_settings(client.plugin_settings())
    log.set_debug(loaded.settings.debug_logging)
    log.add_secret(loaded.settings.plex_token)
    for problem in loaded.problems:
        log.warning(problem)
    return loaded


def parse_scene_id(hook_context: dict[str, Any]) -> int:
    value = hook_context.get("id")
    if isinstance(value, bool) or value is None:
        raise UsageError("hook context has no scene id")
    if isinstance(value, int):
        scene_id = value
    elif isinstance(value, str) and value.strip().isdigit():
        scene_id = int(value.strip())
    else:
        raise UsageError(f"hook context id {str(value)[:40]!r} is not a number")
    if scene_id <= 0 or scene_id > 2**63 - 1:
        raise UsageError(f"hook context id {scene_id} is out of range")
    return scene_id


def hook_settings(conn: Any, client: StashClient, invocation: Invocation, fresh: bool = False) -> Any:
    """The settings a hook acts on: the copy scene hooks cached in the queue database moments ago
    (hooks/settings_cache.py), else read from Stash (and cached). None when Stash cannot say: then the
    update is recorded anyway, which loses nothing."""
    from hooks import settings_cache  # noqa: PLC0415 - sqlite + json only
    cached = None if fresh else settings_cache.load(conn)
    if cached is not None:
        log.set_debug(cached.debug_logging)
        return cached
    try:
        settings = read_settings(client).settings
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the update must still be recorded
        # Without settings we cannot tell whether sync is on; recording the scene loses nothing.
        log.warning(f"could not read PlexSync settings ({log.redact(str(exc))[:300]}); recording the update anyway")
        return None
    try:
        settings_cache.store(conn, settings)
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written only costs the next hook time
        log.debug(f"could not cache the settings for the next hooks: {exc}")
    return settings


def handle_hook(hook_context: dict[str, Any], invocation: Invocation, client: StashClient) -> str:
    hook_type = hook_context.get("type")
    if hook_type not in SCENE_HOOKS + ENTITY_HOOKS + (DESTROY_HOOK,):
        raise UsageError(f"unknown hook type {str(hook_type)[:60]!r}")
    object_id = parse_scene_id(hook_context)
    from hooks.handlers import SCOPE_INPUT_FIELDS, on_scene_update, touches_synced_field  # noqa: PLC0415
    if hook_type in SCENE_HOOKS and not touches_synced_field(hook_context, SCOPE_INPUT_FIELDS):
        # Nothing to record, whatever the settings say: answer before opening the database or reading the
        # settings (a scene already pending had its drain requested by the hook that recorded it).
        return "update filtered: nothing to sync"
    runtime = initialize(invocation=invocation)
    try:
        # Entity hooks read which names reach Plex (sync_performers, ...): always fresh from Stash.
        settings = hook_settings(runtime.conn, client, invocation, fresh=hook_type in ENTITY_HOOKS)
        if settings is not None and settings.verify_stash_tls:
            client = _stash_client(invocation, settings)
        if hook_type == DESTROY_HOOK:
            from queue.operations import forget_scene  # noqa: PLC0415
            forget_scene(runtime.conn, object_id)
            return f"scene {object_id} deleted: sync state forgotten"
        if hook_type in ENTITY_HOOKS:
            from hooks.entities import on_entity_update  # noqa: PLC0415
            recorded = on_entity_update(hook_type, object_id, hook_context, runtime.queue, client, settings)
            if not recorded:
                return "0 scene(s) recorded"  # no rename reaching Plex: no drain to request
        else:
            recorded = int(on_scene_update(object_id, hook_context, runtime.queue, data_dir=runtime.data_dir,
                                           sync_timestamps=runtime.sync_timestamps, settings=settings))
        if settings is not None and not settings.enabled:
            return "sync paused (Pause sync is on)"
        if not recorded and object_id not in runtime.queue:
            return "update filtered: nothing to sync"  # no drain needed for an update we skipped
        if settings is not None and not settings.plex_configured:
            log.warning(settings.missing_plex_message())
            return f"{recorded} scene(s) recorded; Plex not configured"
        from hooks.drain_trigger import ensure_drain  # noqa: PLC0415
        drain = ensure_drain(runtime.conn, client)
        return f"{recorded} scene(s) recorded; drain {drain}"
    finally:
        runtime.conn.close()


TASKS: dict[str, tuple[str, str]] = {
    # mode -> (module, function); imported on use so a task loads only what it needs.
    "process": ("worker.drain", "run_drain"),
    "sync_recent": ("worker.reconcile", "sync_recent"),
    "sync_all": ("worker.reconcile", "sync_all"),
    "force_sync_all": ("worker.reconcile", "force_sync_all"),
    "rebuild_collections": ("worker.rebuild_collections", "rebuild_collections"),
    "status": ("worker.maintenance", "queue_status"),
    "review": ("worker.maintenance", "review_low_confidence"),
    "retry_dead_letters": ("worker.maintenance", "retry_dead_letters"),
    "clear_pending": ("worker.maintenance", "clear_pending"),
    "purge_dead_letters": ("worker.maintenance", "purge_dead_letters"),
    "health": ("worker.health", "health_check"),
    "coverage": ("worker.coverage", "coverage_report"),
}


def handle_task(invocation: Invocation, client: StashClient) -> Any:
    mode = invocation.args.get("mode")
    if not isinstance(mode, str) or mode not in TASKS:
        known = ", ".join(sorted(TASKS))
        raise UsageError(f"unknown task mode {str(mode)[:60]!r} (known: {known})")
    loaded = read_settings(client)
    if loaded.settings.verify_stash_tls:
        client = _stash_client(invocation, loaded.settings)
    log.capture_python_logging()  # libraries' warnings become prefixed log lines, never raw stderr
    # Tasks need plexapi/persistqueue/stashapi: find them (py_deps, PythonDepManager) before importing.
    from worker.deps import MissingDependencies, ensure_runtime_dependencies  # noqa: PLC0415 - stdlib only
    try:
        ensure_runtime_dependencies(invocation.connection.plugin_dir)
    except MissingDependencies as exc:
        raise UsageError(str(exc)) from None
    module_name, function_name = TASKS[mode]
    import importlib  # noqa: PLC0415
    task: Callable[..., Any] = getattr(importlib.import_module(module_name), function_name)
    runtime = initialize(invocation=invocation, with_worker=(mode == "process"))
    try:
        return task(runtime=runtime, settings=loaded.settings, client=client, invocation=invocation)
    finally:
        runtime.conn.close()


def _stash_client(invocation: Invocation, settings: Settings | None = None) -> StashClient:
    log.add_secret(invocation.connection.session_cookie)
    return StashClient(invocation.connection, timeout=10.0,
                       verify_tls=bool(settings and settings.verify_stash_tls))


def run(stdin: Any, stdout: Any) -> int:
    try:
        invocation = read_invocation(stdin)
    except InputError as exc:
        log.error(f"PlexSync: {exc}")
        write_result(error=str(exc), stream=stdout)
        return 0
    try:
        client = _stash_client(invocation)
        hook_context = invocation.hook_context
        if hook_context is not None:
            output = handle_hook(hook_context, invocation, client)
        elif "hookContext" in invocation.args:
            raise UsageError("hookContext is not an object")
        else:
            output = handle_task(invocation, client)
        write_result(output=output, stream=stdout)
    except (UsageError, DatabaseUnavailable, StashError) as exc:
        log.error(f"PlexSync: {exc}")
        write_result(error=str(exc), stream=stdout)
    except Exception as exc:  # noqa: BLE001 - the user gets one clear line, never a traceback
        message = f"PlexSync internal error: {type(exc).__name__}: {log.redact(str(exc))[:500]}"
        log.error(message)
        write_result(error=message, stream=stdout)
    return 0


def main() -> int:
    # stdout carries only the result object; make it UTF-8 whatever the console's code page is.
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=True) \
        if hasattr(sys.stdout, "buffer") else sys.stdout
    return run(sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin, stdout)


if __name__ == "__main__":
    # Stash runs `python {pluginDir}/PlexSync.py`: the plugin folder is sys.path[0], so our `queue`
    # package (a full stand-in for the standard module) is found first.
    sys.exit(main())
