"""The "Coverage report" task: one row per Stash scene with its sync state and whether Plex still shows
what PlexSync wrote, written as a static page that Stash itself serves (worker/coverage_page.py).

States (first that applies): out of scope (sync disabled), dead letter, low confidence (with the
review line naming the candidates), waiting for Plex (a retry is scheduled), pending (queued), synced
(what Plex should show equals Stash now), changed since sync (Stash or the settings changed and no hook
queued it: Sync recent / Sync all will), never matched (no Plex item linked yet).

Drift: for every synced scene the Plex item is read back in batches (`/library/metadata/k1,k2,...`,
plexapi's fetchItems with a list of ratingKeys, 100 per request) and compared with what PlexSync would
write (validation.metadata.desired_plex_fields, plex.writer.plan_edit): a Plex edit or an agent refresh
that changed a field despite the lock shows up as the list of fields that differ.
The queue tables are read only through their queue/ modules (and worker.jobs for the job queue).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from queue import dead_letters, pending, reviews
from queue.operations import SyncRecord, all_records
from stash import log
from stash.graphql import PLUGIN_ID, StashClient
from stash.protocol import Invocation
from validation.config import Settings
from validation.metadata import desired_plex_fields, primary_file_title, unchanged_since_sync
from worker.coverage_page import ASSET_URL_PATH, write_page
from worker.jobs import queued_scene_rows
from worker.reconcile import iter_scene_pages
from worker.stash_reader import scene_fragment

# (key, label, what it means), in the order a scene is tested for them.
STATES: tuple[tuple[str, str, str], ...] = (
    ("out_of_scope", "out of scope", "not synced: outside what the settings sync"),
    ("dead_letter", "dead letter", "failed for good; fix the cause, then run Retry dead letters"),
    ("low_confidence", "low confidence", "several possible Plex items; pin one (see the candidates)"),
    ("waiting", "waiting for Plex", "a retry is scheduled (Plex had no such file yet, or was unreachable)"),
    ("pending", "pending", "queued; the next Process queue run syncs it"),
    ("synced", "synced", "Plex holds what Stash holds now (Stash unchanged since the sync)"),
    ("changed", "changed since sync", "Stash or the settings changed since the sync; Sync recent/all queues it"),
    ("never_matched", "never matched", "no Plex item linked yet"),
)
STATE_INDEX = {key: i for i, (key, _label, _meaning) in enumerate(STATES)}
PLEX_BATCH = 100  # ratingKeys per /library/metadata/k1,k2,... request (plexapi's container size)


@dataclass
class QueueView:
    """What the queue database says about scenes, read once per report."""
    records: dict[int, SyncRecord]
    pending: set[int]
    waiting: dict[int, str]           # scene id -> last error of its scheduled retry
    queued: set[int]
    reviews: dict[int, str]           # scene id -> review line (candidates, how to pin)
    dead: dict[int, str]              # scene id -> error

    @classmethod
    def load(cls, conn: Any, now: float) -> "QueueView":
        waiting: dict[int, str] = {}
        queued: set[int] = set()
        for _pqid, job, _status in queued_scene_rows(conn):
            sid = int(job["scene_id"])
            if float(job.get("not_before") or 0) > now:
                waiting[sid] = str(job.get("last_error") or "retry scheduled")
            else:
                queued.add(sid)
        return cls(records=all_records(conn), pending=pending.scene_ids(conn), waiting=waiting, queued=queued,
                   reviews={sid: line for sid, line, _at in reviews.all_lines(conn)},
                   dead={d.scene_id: d.error for d in dead_letters.all_letters(conn)})


@dataclass
class Row:
    scene_id: int
    title: str
    studio: str
    state: str
    rating_key: int | None = None
    note: str = ""
    drift: str = ""          # the fields Plex shows differently, "" when none or not checked

    def as_list(self) -> list[Any]:
        return [self.scene_id, self.title, self.studio, STATE_INDEX[self.state], self.rating_key or 0,
                self.drift, self.note]


def scope_reason(scene: dict[str, Any], settings: Settings, scene_view: Any = None) -> str | None:
    """Why a scene is outside what PlexSync syncs (Pause sync, or a scope gate), or None."""
    if not settings.enabled:
        return "sync is paused (Pause sync is on)"
    if scene_view is not None:
        return scene_view.out_of_scope(scene)
    from worker.scope import out_of_scope_reason  # noqa: PLC0415
    return out_of_scope_reason(scene, settings)


def classify(scene: dict[str, Any], settings: Settings, view: QueueView,
             scene_view: Any = None) -> tuple[Row, Any]:
    """The scene's row, and the desired Plex fields when Plex should show them now (a drift check).
    `scene_view` (worker/scene_view.SceneView) makes "synced" mean what the worker decides: the same tag
    exclusions, templates and summary link; without one, the plain field mapping."""
    sid = int(scene["id"])
    studio = scene.get("studio") or {}
    row = Row(sid, str(scene.get("title") or "").strip() or primary_file_title(scene) or f"scene {sid}",
              str(studio.get("name") or "") if isinstance(studio, dict) else "", "never_matched")
    record = view.records.get(sid)
    if record is not None and record.rating_key:
        row.rating_key = int(record.rating_key)
    desired = None
    if (reason := scope_reason(scene, settings, scene_view)) is not None:
        row.state, row.note = "out_of_scope", reason
    elif sid in view.dead:
        row.state, row.note = "dead_letter", view.dead[sid]
    elif sid in view.reviews:
        row.state, row.note = "low_confidence", view.reviews[sid]
    elif sid in view.waiting:
        row.state, row.note = "waiting", view.waiting[sid]
    elif sid in view.pending or sid in view.queued:
        row.state = "pending"
    elif record is not None and record.rating_key:
        wanted = scene_view.desired(scene) if scene_view is not None else desired_plex_fields(scene, settings)
        if unchanged_since_sync(scene, wanted, record, settings):
            row.state, desired = "synced", wanted
        else:
            row.state = "changed"
    return row, desired


def check_drift(plex: Any, settings: Settings, batch: list[tuple[Row, Any]]) -> int:
    """Read the batch's Plex items in one request each 100 and note the fields that differ; returns the
    number of Plex requests sent."""
    import plexapi.base  # noqa: PLC0415 - plexapi loads only for a report that reads Plex
    from plex.writer import TAG_ATTR, plan_edit  # noqa: PLC0415
    from plexapi.exceptions import NotFound  # noqa: PLC0415
    from validation.metadata import SCALAR_FIELDS  # noqa: PLC0415

    # The batched metadata endpoint returns full items, yet plexapi re-parses the item's key on every read
    # of an empty attribute to decide whether to reload it (about half the report's time at 50,000 scenes).
    # USER_DONT_RELOAD_FOR_KEYS is plexapi's public switch for that; this task process reads Plex only here.
    plexapi.base.USER_DONT_RELOAD_FOR_KEYS.update((*SCALAR_FIELDS, *TAG_ATTR.values(), "fields"))
    requests = 0
    for start in range(0, len(batch), PLEX_BATCH):
        chunk = batch[start:start + PLEX_BATCH]
        keys = [int(row.rating_key) for row, _desired in chunk if row.rating_key]
        requests += 1
        try:
            items = plex.fetchItems(keys)
        except NotFound:
            items = []  # none of them exists any more
        by_key = {int(item.ratingKey): item for item in items}
        for row, desired in chunk:
            item = by_key.get(int(row.rating_key or 0))
            if item is None:
                row.drift = "item no longer in Plex"
                continue
            item._autoReload = False  # the metadata endpoint returned every tag and lock already
            # Collections are not compared: the worker keeps hand-made ones beside its managed ones, which
            # the Rebuild collections task checks.
            changes = [name for name in plan_edit(item, desired, settings).changes if name != "collection"]
            if changes:
                row.drift = ", ".join(sorted(changes))
    return requests


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    plex_requests: int = 0
    plex_problem: str = ""
    machine_identifier: str = ""

    def totals(self) -> dict[str, int]:
        counts = {key: 0 for key, _label, _meaning in STATES}
        for row in self.rows:
            counts[row.state] += 1
        return counts

    @property
    def drifted(self) -> int:
        return sum(1 for row in self.rows if row.drift)


def build_report(scenes: Iterable[dict[str, Any]], settings: Settings, view: QueueView, plex: Any,
                 page_size: int = 500, scene_view: Any = None) -> Report:
    """Classify every scene; read Plex back for the synced ones, one page of scenes at a time."""
    report = Report(machine_identifier=str(getattr(plex, "machineIdentifier", "") or "") if plex else "")
    to_check: list[tuple[Row, Any]] = []

    def flush() -> None:
        if to_check and plex is not None and not report.plex_problem:
            try:
                report.plex_requests += check_drift(plex, settings, to_check)
            except Exception as exc:  # noqa: BLE001 - the page is still worth having without drift
                report.plex_problem = f"{type(exc).__name__}: {log.redact(str(exc))[:200]}"
        to_check.clear()

    for scene in scenes:
        row, desired = classify(scene, settings, view, scene_view)
        report.rows.append(row)
        if desired is not None:
            to_check.append((row, desired))
            if len(to_check) >= page_size:
                flush()
    flush()
    return report


def _open_plex(settings: Settings) -> tuple[Any, str]:
    if not settings.plex_configured:
        return None, settings.missing_plex_message() or "Plex is not configured"
    try:
        from plex.client import connect  # noqa: PLC0415
        return connect(settings), ""
    except Exception as exc:  # noqa: BLE001 - report what we have; say why drift was not checked
        return None, f"{type(exc).__name__}: {log.redact(str(exc))[:200]}"


def page_address(invocation: Invocation) -> str:
    """Where Stash serves the page: /plugin/<id>/assets + the manifest's ui.assets prefix."""
    return f"{invocation.connection.base_url}/plugin/{PLUGIN_ID}/assets{ASSET_URL_PATH}/"


def coverage_report(runtime: Any, settings: Settings, client: StashClient, invocation: Invocation) -> str:
    """Task "Coverage report": write data/coverage/index.html + coverage.json, log one summary line."""
    started = time.monotonic()
    view = QueueView.load(runtime.conn, time.time())
    plex, problem = _open_plex(settings)

    def progress(done: int, total: int) -> None:
        log.progress(done / total if total else 1.0)

    scenes = iter_scene_pages(client, scene_fragment(settings), on_page=progress)
    from worker.scene_view import SceneView  # noqa: PLC0415
    scene_view = SceneView(settings, client.execute, client.url)  # "synced" as the worker decides it
    report = build_report(scenes, settings, view, plex, scene_view=scene_view)
    report.plex_problem = report.plex_problem or problem
    page_dir = write_page(runtime.data_dir, report, STATES)
    totals = report.totals()
    counts = ", ".join(f"{totals[key]} {label}" for key, label, _m in STATES if totals[key])
    drift = (f"{report.drifted} drifted in Plex" if not report.plex_problem
             else f"Plex not read back ({report.plex_problem})")
    address = page_address(invocation)
    summary = (f"Coverage report: {len(report.rows)} scene(s): {counts or 'none'}; {drift}; "
               f"open {address} (written to {page_dir}) in {time.monotonic() - started:.1f} s")
    log.progress(1.0)
    log.info(summary)
    return summary
