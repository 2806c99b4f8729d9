"""Simulated Stash server: GraphQL (graphql-core) over HTTP on loopback, plus scene screenshots.

It behaves like Stash for the subset PlexSync touches: the real `stashapi.StashInterface` constructs
against it (version, apiKey, full introspection), finds and pages scenes, filters them, runs plugin
tasks, and every update mutation fires the plugin hooks synchronously before it answers, with the hook
input serialised as Stash does (see shared/reference/stash-plugin-protocol.md §2.2, §4.6, §6).

Plugin processes and the job queue live in the plugin host (sandbox/host.py); this module only calls
`host.fire_hooks(...)`, `host.run_task(...)`, `host.find_job(...)`, `host.stop_job(...)`,
`host.job_queue()`.
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
import os
import secrets
import shlex
import ssl
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter
from datetime import date as _date
from datetime import datetime, timedelta, timezone
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.capture import register_secret
from sandbox.stash_assets import needs_login_reply, serve_asset
from sandbox.stash_executor import execute as execute_graphql
from sandbox.stash_tables import LruCache, Table, Versions

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    build_schema,
    parse,
    validate,
)

SCHEMA_PATH = Path(__file__).with_name("stash_schema.graphql")

STASH_VERSION = {"version": "v0.30.1", "hash": "cf3489efd", "build_time": "2026-01-11 18:07:53"}

# Stash serialises SceneUpdateInput from a hand-written Go struct without omitempty: every key is
# present, in this order (reference §2.2), unsent keys null.
SCENE_UPDATE_KEYS: tuple[str, ...] = (
    "clientMutationId", "id", "title", "code", "details", "director", "url", "urls", "date",
    "rating100", "o_counter", "organized", "studio_id", "gallery_ids", "performer_ids", "movies",
    "groups", "tag_ids", "cover_image", "stash_ids", "resume_time", "play_duration", "play_count",
    "primary_file_id",
)

Visited = list[tuple[str, str]]


class StashHost(Protocol):
    """What the simulated Stash needs from the plugin host (sandbox/host.py PluginHost)."""

    def fire_hooks(self, trigger: str, object_id: int, input_obj: dict | None,
                   input_fields: list[str] | None, visited: Visited) -> None: ...

    def run_task(self, plugin_id: str, task_name: str | None, args_map: dict,
                 description: str | None) -> str: ...

    def find_job(self, job_id: str) -> dict | None: ...

    def stop_job(self, job_id: str) -> bool: ...

    def job_queue(self) -> list[dict]: ...

    def plugin_for_assets(self, plugin_id: str) -> tuple[Any, bool]: ...
    def add_job(self, description: str, func: Callable[[Any], None]) -> str: ...


class StashError(Exception):
    """A request the real Stash would refuse (becomes a GraphQL error)."""


# ----------------------------------------------------------------------------------------- helpers

def _name_in_path(name: str, path: str) -> bool:
    """Auto Tag's rule: the name's words, in order, as whole words of the path; between words any of
    '.', '-', '_' or whitespace."""
    words = [re.escape(w) for w in re.split(r"[.\-_\s]+", name.strip()) if w]
    if not words:
        return False
    pattern = r"(?:^|[^\w]|_)" + r"[.\-_\s]+".join(words) + r"(?:$|[^\w]|_)"
    return re.search(pattern, path, re.IGNORECASE) is not None


_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def validate_date(value: str | None) -> str | None:
    """Stash >= v0.30 accepts YYYY, YYYY-MM and YYYY-MM-DD; an empty string clears the date."""
    if value is None or value == "":
        return None
    m = _DATE_RE.match(value)
    if not m:
        raise StashError(f"invalid date {value!r}: expected YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        _date(year, int(month or 1), int(day or 1))
    except ValueError as exc:
        raise StashError(f"invalid date {value!r}: {exc}") from None
    return value


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A tiny solid-colour PNG, so screenshots are real image bytes without any imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + bytes(rgb) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def default_screenshot(scene_id: int) -> bytes:
    """Deterministic per-scene image (what a generated screenshot stands in for)."""
    digest = hashlib.sha1(f"scene-{scene_id}".encode()).digest()
    return _png(32, 18, (digest[0], digest[1], digest[2]))


def image_content_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def load_image(value: str) -> bytes:
    """cover_image / image inputs: a base64 data URL, or a URL Stash would download."""
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        try:
            if header.endswith(";base64"):
                return base64.b64decode(payload, validate=False)
            return payload.encode()
        except (binascii.Error, ValueError) as exc:
            raise StashError(f"invalid image data URL: {exc}") from None
    try:
        with urllib.request.urlopen(value, timeout=10) as resp:  # noqa: S310 - sandbox only
            return resp.read()
    except (urllib.error.URLError, ValueError, OSError) as exc:
        raise StashError(f"could not fetch image {value!r}: {exc}") from None


def filter_none(values: Iterable[str | None]) -> list[str]:
    return [v for v in values if v]


def _dedupe(values: Iterable[int]) -> list[int]:
    seen: dict[int, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def _plugin_value(value: dict | None) -> Any:
    """Deprecated PluginValueInput -> plain value (first non-null of str, i, b, f, o, a)."""
    if value is None:
        return None
    if value.get("str") is not None:
        return value["str"]
    if value.get("i") is not None:
        return value["i"]
    if value.get("b") is not None:
        return value["b"]
    if value.get("f") is not None:
        return value["f"]
    if value.get("o") is not None:
        return plugin_args_to_map(value["o"])
    if value.get("a") is not None:
        return [_plugin_value(v) for v in value["a"]]
    return None


def plugin_args_to_map(args: list[dict]) -> dict:
    return {a["key"]: _plugin_value(a.get("value")) for a in args}


# ----------------------------------------------------------------------------------------- filters

def _cmp_text(field: Any, crit: dict) -> bool:
    """Timestamp/date criteria compare as TEXT, like Stash's SQL on stored RFC 3339 strings."""
    mod, value, value2 = crit["modifier"], crit.get("value"), crit.get("value2")
    if mod == "IS_NULL":
        return field in (None, "")
    if mod == "NOT_NULL":
        return field not in (None, "")
    if field is None:
        return False
    if mod == "EQUALS":
        return field == value
    if mod == "NOT_EQUALS":
        return field != value
    if mod == "GREATER_THAN":
        return field > value
    if mod == "LESS_THAN":
        return field < value
    if mod == "BETWEEN":
        return value <= field <= (value2 if value2 is not None else value)
    if mod == "NOT_BETWEEN":
        return not (value <= field <= (value2 if value2 is not None else value))
    raise StashError(f"modifier {mod} is not supported for this criterion")


def _cmp_int(field: int | None, crit: dict) -> bool:
    return _cmp_text(field, crit)


def _cmp_string(field: str | None, crit: dict) -> bool:
    mod, value = crit["modifier"], crit["value"]
    text = field or ""
    if mod == "IS_NULL":
        return text == ""
    if mod == "NOT_NULL":
        return text != ""
    if mod == "EQUALS":
        return text.lower() == value.lower()
    if mod == "NOT_EQUALS":
        return text.lower() != value.lower()
    if mod == "INCLUDES":
        return value.lower() in text.lower()
    if mod == "EXCLUDES":
        return value.lower() not in text.lower()
    if mod in ("MATCHES_REGEX", "NOT_MATCHES_REGEX"):
        try:
            hit = re.search(value, text) is not None
        except re.error as exc:
            raise StashError(f"invalid regex {value!r}: {exc}") from None
        return hit if mod == "MATCHES_REGEX" else not hit
    raise StashError(f"modifier {mod} is not supported for string criteria")


def _cmp_multi(have: set[int], crit: dict, expand: Callable[[int], set[int]] | None = None) -> bool:
    """(Hierarchical)MultiCriterionInput: INCLUDES (any), INCLUDES_ALL, EXCLUDES, IS_NULL, NOT_NULL."""
    mod = crit["modifier"]
    if mod == "IS_NULL":
        return not have
    if mod == "NOT_NULL":
        return bool(have)
    wanted = [int(v) for v in crit.get("value") or []]
    groups = [expand(v) if expand else {v} for v in wanted]
    excludes = [int(v) for v in crit.get("excludes") or []]
    ex_ids: set[int] = set()
    for v in excludes:
        ex_ids |= expand(v) if expand else {v}
    if ex_ids & have:
        return False
    if mod == "INCLUDES":
        return not groups or any(g & have for g in groups)
    if mod == "INCLUDES_ALL":
        return all(g & have for g in groups)
    if mod == "EXCLUDES":
        return not any(g & have for g in groups)
    raise StashError(f"modifier {mod} is not supported for multi criteria")


def _search_terms(q: str) -> list[str]:
    try:
        return [t.lower() for t in shlex.split(q)]
    except ValueError:
        return [t.lower() for t in q.split()]


TLS_CERT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls", "stash-sandbox.crt")
TLS_KEY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls", "stash-sandbox.key")

# ------------------------------------------------------------------------------------------ server

class StashSim:
    """In-memory Stash with a GraphQL endpoint, screenshots, sessions and plugin-hook call-outs.

    Stored records: a scene, studio, performer, tag or group dict in the tables is never changed in
    place. Every edit works on a copy and swaps it in under the lock (all-or-nothing, like Stash's
    transaction), so the query resolvers hand graphql-core the stored dicts themselves: it only reads
    them, and a concurrent edit replaces a record rather than changing one being serialised. Copying every
    row per request (as this simulator once did) cost more CPU than the rest of a findScenes page.
    """

    def __init__(self, host: StashHost | None = None, username: str | None = None,
                 password: str | None = None, api_key: str = "", utc_offset_minutes: int = 0,
                 plugins_path: str = "", config_dir: str = "/root/.stash", tls: bool = False) -> None:
        self.host = host
        # TLS with a self-signed certificate for another name, as many real Stash setups have.
        self.scheme = "https" if tls else "http"
        self.username = username
        self.password = password
        self.api_key = api_key
        register_secret(api_key)
        register_secret(password)
        self.plugins_path = plugins_path
        self.config_dir = config_dir
        # Stored timestamps carry the server's offset at write time (reference §6.4).
        self.utc_offset_minutes = utc_offset_minutes
        self.url = ""
        self.port = 0

        self._lock = threading.RLock()
        self._versions = Versions()  # moved by every table write: keys the cached scene listings
        self._scenes: dict[int, dict] = Table(self._versions)
        self._studios: dict[int, dict] = Table(self._versions)
        self._performers: dict[int, dict] = Table(self._versions)
        self._tags: dict[int, dict] = Table(self._versions)
        self._groups: dict[int, dict] = Table(self._versions)
        # Stand-ins for Stash's database indexes and gqlgen's query cache (sandbox/stash_tables.py).
        self._listings = LruCache(8)
        self._documents = LruCache(1000)
        self._plugin_configs: dict[str, dict] = {}
        self._sessions: dict[str, dict] = {}
        self._next_id: Counter[str] = Counter()
        self._clock_offset = 0.0
        self._latency_s = 0.0

        # Observability for tests and benchmarks (thread-safe through _log_lock).
        self._log_lock = threading.Lock()
        self.request_log: Counter[str] = Counter()   # GraphQL requests by operation name
        self.field_log: Counter[str] = Counter()     # GraphQL requests by root field
        self.http_log: list[dict] = []               # {"method","path","status"}
        self.hook_calls: list[dict] = []             # every fire_hooks call made
        self.hook_errors: list[str] = []
        # every authenticated /graphql request: {"via": "session"|"apikey"|"none", "visited": [...]}
        self.auth_log: list[dict] = []
        self._graphql_failure: int | None = None     # fault switch: answer /graphql with this status
        self._graphql_intercept: Callable[[dict], int | None] | None = None  # see intercept_graphql

        self.schema: GraphQLSchema = self._build_schema()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def auth_enabled(self) -> bool:
        return bool(self.username)

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 in a daemon thread; threaded so hook processes can call back in."""
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.sim = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        if self.scheme == "https":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS_CERT, TLS_KEY)
            # The handshake happens in each handler thread, so one slow client never blocks accept().
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
            base_handle_error = server.handle_error

            def handle_error(request: Any, client_address: Any) -> None:
                # A client refusing our self-signed certificate is expected (verify_stash_tls): no traceback.
                if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
                    base_handle_error(request, client_address)

            server.handle_error = handle_error  # type: ignore[method-assign]
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="stash-sim", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "StashSim":
        if not self.url:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ clock

    def now(self) -> int:
        """Unix seconds (second precision, as Stash stores)."""
        return int(time.time() + self._clock_offset)

    def advance_clock(self, seconds: float) -> None:
        """Move the server clock forward, so tests get distinct updated_at values without sleeping."""
        with self._lock:
            self._clock_offset += seconds

    def format_time(self, ts: int) -> str:
        tz = timezone(timedelta(minutes=self.utc_offset_minutes))
        text = datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")
        return text[:-6] + "Z" if self.utc_offset_minutes == 0 else text  # Go prints UTC as "Z"

    def _stamp(self, rec: dict, created: bool = False) -> None:
        ts = self.now()
        rec["updated_ts"] = ts
        rec["updated_at"] = self.format_time(ts)
        if created:
            rec["created_at"] = rec["updated_at"]

    def set_latency(self, ms: float) -> None:
        self._latency_s = max(0.0, ms / 1000.0)

    # ------------------------------------------------------------------ seeding (no hooks)

    def _new_id(self, kind: str) -> int:
        self._next_id[kind] += 1
        return self._next_id[kind]

    def _add_record(self, kind: str, table: dict[int, dict], defaults: dict[str, Any],
                    fields: dict[str, Any]) -> int:
        """Seed one studio, performer, tag or group: Stash's defaults, then the caller's fields.
        The caller holds the lock."""
        rid = self._new_id(kind)
        rec = {"id": rid, **defaults, **fields}
        self._stamp(rec, created=True)
        table[rid] = rec
        return rid

    def add_studio(self, name: str, parent_id: int | None = None, **fields: Any) -> int:
        with self._lock:
            if parent_id is not None and parent_id not in self._studios:
                raise KeyError(f"studio {parent_id} not found")
            return self._add_record("studio", self._studios, {
                "name": name, "parent_id": parent_id, "url": None, "aliases": [], "tag_ids": [],
                "ignore_auto_tag": False, "stash_ids": [], "rating100": None, "favorite": False,
                "details": None, "image": None}, fields)

    def add_performer(self, name: str, **fields: Any) -> int:
        with self._lock:
            return self._add_record("performer", self._performers, {
                "name": name, "disambiguation": None, "urls": [], "gender": None, "birthdate": None,
                "alias_list": [], "favorite": False, "tag_ids": [], "ignore_auto_tag": False,
                "stash_ids": [], "rating100": None, "details": None, "image": None}, fields)

    def add_tag(self, name: str, **fields: Any) -> int:
        with self._lock:
            return self._add_record("tag", self._tags, {
                "name": name, "description": None, "aliases": [], "ignore_auto_tag": False,
                "favorite": False, "parent_ids": [], "image": None}, fields)

    def add_group(self, name: str, **fields: Any) -> int:
        with self._lock:
            return self._add_record("group", self._groups, {
                "name": name, "aliases": None, "duration": None, "date": None, "rating100": None,
                "studio_id": None, "director": None, "synopsis": None, "urls": [], "tag_ids": [],
                "front_image": None, "back_image": None}, fields)

    def add_scene(self, title: str | None = None, files: Iterable[str | dict] = (), **fields: Any) -> int:
        """Seed a scene. fields: code, details, director, urls, date, rating100, organized, studio_id,
        performer_ids, tag_ids, groups=[(group_id, scene_index)], cover_bytes, stash_ids,
        gallery_ids. Fires no hook."""
        with self._lock:
            sid = self._new_id("scene")
            rec = {"id": sid, "title": title, "code": None, "details": None, "director": None,
                   "urls": [], "date": None, "rating100": None, "organized": False,
                   "studio_id": None, "performer_ids": [], "tag_ids": [], "gallery_ids": [],
                   "groups": [], "stash_ids": [], "files": [], "cover": None, "o_counter": 0,
                   "resume_time": None, "play_duration": None, "play_count": 0}
            self._stamp(rec, created=True)
            self._apply_python_fields(rec, {"files": list(files), **fields})
            self._scenes[sid] = rec
            return sid

    def _make_file(self, spec: str | dict, created_ts: int) -> dict:
        if isinstance(spec, str):
            spec = {"path": spec}
        path = spec["path"]
        h = hashlib.md5(path.encode()).hexdigest()
        duration = float(spec.get("duration", 60 + int(h[:4], 16) % 3540))
        size = int(spec.get("size", 50_000_000 + int(h[4:10], 16) * 7))
        text = self.format_time(created_ts)
        return {"id": self._new_id("file"), "path": path, "basename": re.split(r"[\\/]", path)[-1],
                "size": size, "duration": duration, "width": spec.get("width", 1920),
                "height": spec.get("height", 1080), "format": "mp4", "video_codec": "h264",
                "audio_codec": "aac", "frame_rate": 29.97,
                "bit_rate": int(size * 8 / duration) if duration else 0,
                "md5": h, "oshash": h[:16], "mod_time": text, "created_at": text, "updated_at": text}

    def _apply_python_fields(self, rec: dict, fields: dict) -> None:
        """Python-side scene edits (seeding, scans, Auto Tag) with int ids and plain values."""
        allowed = {"title", "code", "details", "director", "urls", "date", "rating100", "organized",
                   "studio_id", "performer_ids", "tag_ids", "gallery_ids", "groups", "cover_bytes",
                   "files", "stash_ids", "o_counter", "play_count", "resume_time", "play_duration"}
        unknown = set(fields) - allowed
        if unknown:
            raise TypeError(f"unknown scene fields: {sorted(unknown)}")
        for key, value in fields.items():
            if key == "date":
                rec["date"] = validate_date(value)
            elif key == "urls":
                rec["urls"] = list(value or [])
            elif key == "studio_id":
                if value is not None and value not in self._studios:
                    raise KeyError(f"studio {value} not found")
                rec["studio_id"] = value
            elif key in ("performer_ids", "tag_ids"):
                table = self._performers if key == "performer_ids" else self._tags
                for v in value or []:
                    if v not in table:
                        raise KeyError(f"{key[:-4]} {v} not found")
                rec[key] = _dedupe(value or [])
            elif key == "groups":
                pairs = [(g, None) if isinstance(g, int) else (int(g[0]), g[1]) for g in value or []]
                for gid, _ in pairs:
                    if gid not in self._groups:
                        raise KeyError(f"group {gid} not found")
                rec["groups"] = pairs
            elif key == "cover_bytes":
                rec["cover"] = value
            elif key == "files":
                old = {f["path"]: f for f in rec["files"]}
                ts = self.now()
                rec["files"] = [old.get(s if isinstance(s, str) else s["path"]) or self._make_file(s, ts)
                                for s in value or []]
            elif key == "stash_ids":
                rec["stash_ids"] = [dict(s, updated_at=s.get("updated_at") or rec["updated_at"])
                                    for s in value or []]
            else:
                rec[key] = value

    # ------------------------------------------------------------------ scan-like changes

    def touch_scene_without_hook(self, scene_id: int, **fields: Any) -> None:
        """Like Auto Tag: change the scene and bump updated_at, but fire no hook."""
        with self._lock:
            rec = copy.deepcopy(self._require(self._scenes, scene_id, "scene"))
            self._apply_python_fields(rec, fields)
            self._stamp(rec)
            self._scenes[scene_id] = rec

    def auto_tag(self, paths: list[str] | None = None, performers: list[str] | None = None,
                 studios: list[str] | None = None, tags: list[str] | None = None) -> list[int]:
        """Stash's Auto Tag (internal/autotag) over scenes: a performer, studio or tag whose name appears
        in a scene's file path as whole words (case-insensitive; words may be separated by '.', '-', '_'
        or whitespace) is added to the scene; a studio only when the scene has none. Each changed scene's
        updated_at moves; NO hook fires. Arguments as AutoTagMetadataInput: ids, ["*"] for all; all three
        empty means all of each. Returns the ids of changed scenes."""
        everything = not (performers or studios or tags)

        def chosen(table: dict[int, dict], ids: list[str] | None) -> list[dict]:
            if everything or (ids and "*" in ids):
                return list(table.values())
            return [table[int(i)] for i in ids or () if int(i) in table]

        changed: list[int] = []
        with self._lock:
            kinds = [("performer_ids", chosen(self._performers, performers)),
                     ("studio_id", chosen(self._studios, studios)), ("tag_ids", chosen(self._tags, tags))]
            for sid, rec in self._scenes.items():
                files = [f["path"] for f in rec["files"]]
                if paths and not any(f.startswith(p) for f in files for p in paths):
                    continue
                new = copy.deepcopy(rec)
                for key, records in kinds:
                    for other in records:
                        if not any(_name_in_path(other["name"], f) for f in files):
                            continue
                        if key == "studio_id":
                            if new["studio_id"] is None:
                                new["studio_id"] = other["id"]
                        elif other["id"] not in new[key]:
                            new[key] = new[key] + [other["id"]]
                if new != rec:
                    self._stamp(new)
                    self._scenes[sid] = new
                    changed.append(sid)
        return changed

    def scan_update(self, scene_id: int, **changes: Any) -> None:
        """Like a scan noticing a moved/changed file: change, bump, fire Scene.Update.Post, input null."""
        self.touch_scene_without_hook(scene_id, **changes)
        self._fire("Scene.Update.Post", scene_id, None, None, [])

    def scan_create(self, title: str | None = None, files: Iterable[str | dict] = (), **fields: Any) -> int:
        """Like a scan finding a new file: create the scene, fire Scene.Create.Post with input null."""
        sid = self.add_scene(title, files, **fields)
        self._fire("Scene.Create.Post", sid, None, None, [])
        return sid

    # ------------------------------------------------------------------ snapshots

    def scene(self, scene_id: int) -> dict:
        """Resolved snapshot of a scene (names included) for assertions."""
        with self._lock:
            rec = self._require(self._scenes, scene_id, "scene")
            studio = self._studios.get(rec["studio_id"]) if rec["studio_id"] else None
            parent = self._studios.get(studio["parent_id"]) if studio and studio["parent_id"] else None
            return {
                "id": rec["id"], "title": rec["title"], "code": rec["code"], "details": rec["details"],
                "director": rec["director"], "urls": list(rec["urls"]), "date": rec["date"],
                "rating100": rec["rating100"], "organized": rec["organized"],
                "studio": None if not studio else {"id": studio["id"], "name": studio["name"],
                                                   "parent": parent["name"] if parent else None},
                "performers": [{"id": p, "name": self._performers[p]["name"],
                                "disambiguation": self._performers[p]["disambiguation"]}
                               for p in rec["performer_ids"]],
                "tags": [{"id": t, "name": self._tags[t]["name"]} for t in rec["tag_ids"]],
                "groups": [{"id": g, "name": self._groups[g]["name"], "scene_index": i}
                           for g, i in rec["groups"]],
                "files": [f["path"] for f in rec["files"]],
                "stash_ids": copy.deepcopy(rec["stash_ids"]),
                "created_at": rec["created_at"], "updated_at": rec["updated_at"],
                "updated_ts": rec["updated_ts"],
                "cover_sha1": hashlib.sha1(rec["cover"]).hexdigest() if rec["cover"] else None,
            }

    def scene_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._scenes)

    def screenshot_bytes(self, scene_id: int) -> bytes:
        with self._lock:
            rec = self._require(self._scenes, scene_id, "scene")
            return rec["cover"] or default_screenshot(scene_id)

    def set_plugin_config(self, plugin_id: str, values: dict) -> None:
        """Replace the plugin's whole settings map, as configurePlugin does."""
        with self._lock:
            self._plugin_configs[plugin_id] = copy.deepcopy(dict(values))

    def plugin_config(self, plugin_id: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._plugin_configs.get(plugin_id, {}))

    # ------------------------------------------------------------------ sessions and auth

    def make_session_cookie(self, visited_hooks: Visited | None = None) -> str:
        """Mint a plugin session cookie value carrying the visited (plugin_id, hook) pairs."""
        value = secrets.token_urlsafe(24)
        register_secret(value)
        with self._lock:
            self._sessions[value] = {"user": self.username or "",
                                     "visited": [tuple(v) for v in (visited_hooks or [])],
                                     "created": time.time()}
        return value

    def session_visited(self, value: str) -> Visited | None:
        with self._lock:
            sess = self._sessions.get(value)
            return list(sess["visited"]) if sess else None

    def fail_graphql(self, status: int | None = 500) -> None:
        """Fault switch: /graphql answers `status` (until called with None), like a Stash in trouble."""
        self._graphql_failure = status

    def intercept_graphql(self, fn: Callable[[dict], int | None] | None) -> None:
        """Test hook: fn(request body) runs before each POST /graphql is executed, in the request's
        thread (it may change data, e.g. edit scenes in the middle of a client's paged listing). A status
        it returns is answered instead, as by fail_graphql; None lets the request through. None removes it."""
        self._graphql_intercept = fn

    def _authenticate(self, headers: Any, query: dict[str, list[str]]) -> tuple[bool, Visited]:
        ok, visited, via = self._authenticate_via(headers, query)
        if ok:
            with self._log_lock:
                self.auth_log.append({"via": via, "visited": list(visited)})
        return ok, visited

    def _authenticate_via(self, headers: Any, query: dict[str, list[str]]) -> tuple[bool, Visited, str]:
        """(allowed, visited, how) for a request, following Stash's session.Authenticate order."""
        visited: Visited = []
        session_ok = False
        raw_cookie = headers.get("Cookie")
        if raw_cookie:
            jar = SimpleCookie()
            try:
                jar.load(raw_cookie)
            except CookieError:
                jar = SimpleCookie()
            if "session" in jar:
                found = self.session_visited(jar["session"].value)
                if found is not None:
                    session_ok, visited = True, found
        key = headers.get("ApiKey") or (query.get("apikey") or [""])[0]
        if key:
            # A presented API key must be right, with or without credentials configured.
            if not self.api_key or not secrets.compare_digest(key, self.api_key):
                return False, visited, "apikey"
            return True, visited, "apikey"
        via = "session" if session_ok else "none"
        if not self.auth_enabled:
            return True, visited, via
        return session_ok, visited, via

    def login(self, username: str, password: str) -> str | None:
        if self.auth_enabled and username == self.username and password == self.password:
            return self.make_session_cookie([])
        return None

    # ------------------------------------------------------------------ GraphQL client helper

    def gql(self, query: str, variables: dict | None = None, cookie: str | None = None,
            api_key: str | None = None, timeout: float = 30) -> dict:
        """POST to this server's /graphql; returns the response envelope {"data", "errors"?}.

        With auth on and neither cookie nor api_key given, the server's own API key is sent."""
        headers = {"Content-Type": "application/json"}
        if cookie:
            headers["Cookie"] = f"session={cookie}"
        elif api_key or (self.auth_enabled and self.api_key):
            headers["ApiKey"] = api_key or self.api_key
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(self.url + "/graphql", data=body, headers=headers, method="POST")
        try:
            context = ssl._create_unverified_context() if self.scheme == "https" else None  # self-signed
            with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                return json.loads(payload)
            except ValueError:
                raise RuntimeError(f"HTTP {exc.code}: {payload[:200]!r}") from None

    # ------------------------------------------------------------------ request log

    def _log_graphql(self, operation: str, fields: list[str]) -> None:
        with self._log_lock:
            self.request_log[operation] += 1
            for f in fields:
                self.field_log[f] += 1

    def _log_http(self, method: str, path: str, status: int) -> None:
        with self._log_lock:
            self.http_log.append({"method": method, "path": path, "status": status})

    def request_count(self, operation: str | None = None, field: str | None = None) -> int:
        with self._log_lock:
            if operation is not None:
                return self.request_log[operation]
            if field is not None:
                return self.field_log[field]
            return sum(self.request_log.values())

    def reset_requests(self) -> None:
        with self._log_lock:
            self.request_log.clear()
            self.field_log.clear()
            self.http_log.clear()

    # ------------------------------------------------------------------ hooks

    def _fire(self, trigger: str, object_id: int, input_obj: dict | None,
              input_fields: list[str] | None, visited: Visited) -> None:
        """Run plugin hooks synchronously, outside the state lock (hooks call back into us)."""
        with self._log_lock:
            self.hook_calls.append({"trigger": trigger, "id": object_id, "input": input_obj,
                                    "input_fields": input_fields, "visited": list(visited)})
        if self.host is None:
            return
        try:
            self.host.fire_hooks(trigger, object_id, input_obj, input_fields, list(visited))
        except Exception as exc:  # Stash logs hook failures; the mutation still succeeds
            with self._log_lock:
                self.hook_errors.append(f"{trigger} {object_id}: {exc!r}")

    def _serialize_input(self, value: Any, gql_type: Any, order: Iterable[str] | None = None) -> Any:
        """Mutation input as Stash's Go structs marshal it: every key present, unsent ones null."""
        while isinstance(gql_type, GraphQLNonNull):
            gql_type = gql_type.of_type
        if value is None:
            return None
        if isinstance(gql_type, GraphQLList):
            return [self._serialize_input(v, gql_type.of_type) for v in value]
        if isinstance(gql_type, GraphQLInputObjectType):
            keys = list(order) if order is not None else list(gql_type.fields)
            return {k: self._serialize_input(value.get(k), gql_type.fields[k].type) for k in keys}
        return value

    def _input_type(self, name: str) -> GraphQLInputObjectType:
        t = self.schema.type_map[name]
        assert isinstance(t, GraphQLInputObjectType)
        return t

    # ------------------------------------------------------------------ lookups

    @staticmethod
    def _require(table: dict[int, dict], obj_id: int, kind: str) -> dict:
        rec = table.get(obj_id)
        if rec is None:
            raise StashError(f"{kind} with id {obj_id} not found")
        return rec

    @staticmethod
    def _int_id(value: Any, kind: str) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise StashError(f"invalid {kind} id {value!r}") from None

    def _refs(self, values: Iterable[Any] | None, table: dict[int, dict], kind: str) -> list[int]:
        ids = [self._int_id(v, kind) for v in values or []]
        for i in ids:
            self._require(table, i, kind)
        return _dedupe(ids)

    def _ref(self, value: Any, table: dict[int, dict], kind: str) -> int | None:
        if value is None or value == "":
            return None
        i = self._int_id(value, kind)
        self._require(table, i, kind)
        return i

    def _studio_descendants(self, sid: int, depth: int | None) -> set[int]:
        out, frontier, level = {sid}, {sid}, 0
        while frontier and (depth is not None and (depth < 0 or level < depth)):
            frontier = {s["id"] for s in self._studios.values() if s["parent_id"] in frontier} - out
            out |= frontier
            level += 1
        return out

    def _tag_descendants(self, tid: int, depth: int | None) -> set[int]:
        out, frontier, level = {tid}, {tid}, 0
        while frontier and (depth is not None and (depth < 0 or level < depth)):
            frontier = {t["id"] for t in self._tags.values() if set(t["parent_ids"]) & frontier} - out
            out |= frontier
            level += 1
        return out

    # ------------------------------------------------------------------ scene edits from GraphQL

    def _apply_scene_input(self, rec: dict, inp: dict) -> None:
        for key in ("title", "code", "details", "director"):
            if key in inp:
                rec[key] = inp[key]
        if "urls" in inp:
            rec["urls"] = list(inp["urls"] or [])
        elif "url" in inp:
            rec["urls"] = [inp["url"]] if inp["url"] else []
        if "date" in inp:
            rec["date"] = validate_date(inp["date"])
        if "rating100" in inp:
            rec["rating100"] = inp["rating100"]
        if inp.get("organized") is not None:
            rec["organized"] = bool(inp["organized"])
        if "studio_id" in inp:
            rec["studio_id"] = self._ref(inp["studio_id"], self._studios, "studio")
        if "performer_ids" in inp:
            rec["performer_ids"] = self._refs(inp["performer_ids"], self._performers, "performer")
        if "tag_ids" in inp:
            rec["tag_ids"] = self._refs(inp["tag_ids"], self._tags, "tag")
        if "gallery_ids" in inp:
            rec["gallery_ids"] = _dedupe(self._int_id(g, "gallery") for g in inp["gallery_ids"] or [])
        group_key = "groups" if "groups" in inp else "movies" if "movies" in inp else None
        if group_key:
            id_key = "group_id" if group_key == "groups" else "movie_id"
            rec["groups"] = [(self._ref(g[id_key], self._groups, "group"), g.get("scene_index"))
                             for g in inp[group_key] or []]
        if inp.get("cover_image"):
            rec["cover"] = load_image(inp["cover_image"])
        if "stash_ids" in inp:
            rec["stash_ids"] = [{"endpoint": s["endpoint"], "stash_id": s["stash_id"],
                                 "updated_at": s.get("updated_at") or self.format_time(self.now())}
                                for s in inp["stash_ids"] or []]
        for key in ("resume_time", "play_duration", "play_count", "o_counter"):
            if inp.get(key) is not None:
                rec[key] = inp[key]
        if inp.get("primary_file_id") is not None:
            fid = self._int_id(inp["primary_file_id"], "file")
            files = rec["files"]
            match = [f for f in files if f["id"] == fid]
            if not match:
                raise StashError(f"file with id {fid} not associated with scene")
            rec["files"] = match + [f for f in files if f["id"] != fid]

    def _apply_bulk_ids(self, current: list[int], spec: dict | None, table: dict[int, dict] | None,
                        kind: str) -> list[int]:
        if spec is None:
            return current
        ids = (self._refs(spec.get("ids"), table, kind) if table is not None
               else _dedupe(self._int_id(v, kind) for v in spec.get("ids") or []))
        mode = spec["mode"]
        if mode == "SET":
            return ids
        if mode == "ADD":
            return _dedupe([*current, *ids])
        return [i for i in current if i not in ids]

    def _apply_bulk_scene_input(self, rec: dict, inp: dict) -> None:
        for key in ("title", "code", "details", "director", "rating100"):
            if key in inp:
                rec[key] = inp[key]
        if "date" in inp:
            rec["date"] = validate_date(inp["date"])
        if inp.get("organized") is not None:
            rec["organized"] = bool(inp["organized"])
        if "studio_id" in inp:
            rec["studio_id"] = self._ref(inp["studio_id"], self._studios, "studio")
        if inp.get("urls") is not None:
            spec, values = inp["urls"], list(inp["urls"].get("values") or [])
            if spec["mode"] == "SET":
                rec["urls"] = values
            elif spec["mode"] == "ADD":
                rec["urls"] = rec["urls"] + [v for v in values if v not in rec["urls"]]
            else:
                rec["urls"] = [u for u in rec["urls"] if u not in values]
        elif inp.get("url"):
            rec["urls"] = [inp["url"]]
        rec["performer_ids"] = self._apply_bulk_ids(rec["performer_ids"], inp.get("performer_ids"),
                                                    self._performers, "performer")
        rec["tag_ids"] = self._apply_bulk_ids(rec["tag_ids"], inp.get("tag_ids"), self._tags, "tag")
        rec["gallery_ids"] = self._apply_bulk_ids(rec["gallery_ids"], inp.get("gallery_ids"), None,
                                                  "gallery")
        group_spec = inp.get("group_ids") if inp.get("group_ids") is not None else inp.get("movie_ids")
        if group_spec is not None:
            index = dict(rec["groups"])
            kept = self._apply_bulk_ids([g for g, _ in rec["groups"]], group_spec, self._groups, "group")
            rec["groups"] = [(g, index.get(g)) for g in kept]

    # ------------------------------------------------------------------ mutation resolvers

    def _m_scene_update(self, _root: Any, info: Any, input: dict) -> dict | None:
        sid = self._int_id(input["id"], "scene")
        with self._lock:
            rec = copy.deepcopy(self._require(self._scenes, sid, "scene"))
            self._apply_scene_input(rec, input)   # validate on a copy: all-or-nothing like a tx
            self._stamp(rec)                      # UpdatePartial always bumps updated_at
            self._scenes[sid] = rec
        hook_input = self._serialize_input(input, self._input_type("SceneUpdateInput"), SCENE_UPDATE_KEYS)
        self._fire("Scene.Update.Post", sid, hook_input, list(input), info.context["visited"])
        return self._scene_source(sid)

    def _m_bulk_scene_update(self, _root: Any, info: Any, input: dict) -> list[dict]:
        ids = _dedupe(self._int_id(i, "scene") for i in input.get("ids") or [])
        with self._lock:
            updated = {}
            for sid in ids:
                rec = copy.deepcopy(self._require(self._scenes, sid, "scene"))
                self._apply_bulk_scene_input(rec, input)
                self._stamp(rec)
                updated[sid] = rec
            self._scenes.update(updated)
        hook_input = self._serialize_input(input, self._input_type("BulkSceneUpdateInput"))
        for sid in ids:  # one hook run per scene, in series, each with the whole bulk input
            self._fire("Scene.Update.Post", sid, hook_input, list(input), info.context["visited"])
        return [s for s in (self._scene_source(sid) for sid in ids) if s is not None]

    def _m_scene_destroy(self, _root: Any, info: Any, input: dict) -> bool:
        sid = self._int_id(input["id"], "scene")
        with self._lock:
            rec = self._scenes.pop(sid, None)
            if rec is None:
                raise StashError(f"scene with id {sid} not found")
        primary = rec["files"][0] if rec["files"] else None
        hook_input = self._serialize_input(input, self._input_type("SceneDestroyInput"))
        hook_input.update({"checksum": primary["md5"] if primary else "",
                           "oshash": primary["oshash"] if primary else "",
                           "path": primary["path"] if primary else ""})
        self._fire("Scene.Destroy.Post", sid, hook_input, None, info.context["visited"])
        return True

    def _update_object(self, info: Any, input: dict, table: dict[int, dict], kind: str,
                       trigger: str, input_type: str, apply: Callable[[dict, dict], None]) -> dict:
        oid = self._int_id(input["id"], kind)
        with self._lock:
            rec = copy.deepcopy(self._require(table, oid, kind))
            apply(rec, input)
            self._stamp(rec)
            table[oid] = rec
            result = rec  # stored from now on, so never changed in place
        hook_input = self._serialize_input(input, self._input_type(input_type))
        self._fire(trigger, oid, hook_input, list(input), info.context["visited"])
        return result

    def _check_unique_name(self, table: dict[int, dict], rec: dict, kind: str) -> None:
        for other in table.values():
            if other["id"] != rec["id"] and other["name"].lower() == rec["name"].lower():
                raise StashError(f"{kind} with name '{rec['name']}' already exists")

    def _apply_common(self, rec: dict, inp: dict, plain: Iterable[str]) -> None:
        if "name" in inp:
            if not inp["name"]:
                raise StashError("name must not be blank")
            rec["name"] = inp["name"]
        for key in plain:
            if key in inp:
                rec[key] = list(inp[key] or []) if isinstance(rec.get(key), list) else inp[key]
        if "tag_ids" in inp:
            rec["tag_ids"] = self._refs(inp["tag_ids"], self._tags, "tag")
        if "stash_ids" in inp:
            rec["stash_ids"] = [{"endpoint": s["endpoint"], "stash_id": s["stash_id"],
                                 "updated_at": s.get("updated_at") or self.format_time(self.now())}
                                for s in inp["stash_ids"] or []]
        for key in ("image", "front_image", "back_image"):
            if inp.get(key):
                rec[key] = load_image(inp[key])

    def _apply_performer(self, rec: dict, inp: dict) -> None:
        self._apply_common(rec, inp, ("disambiguation", "urls", "gender", "alias_list", "favorite",
                                      "rating100", "details", "ignore_auto_tag"))
        if "birthdate" in inp:
            rec["birthdate"] = validate_date(inp["birthdate"])

    def _apply_studio(self, rec: dict, inp: dict) -> None:
        self._apply_common(rec, inp, ("url", "rating100", "favorite", "details", "aliases",
                                      "ignore_auto_tag"))
        self._check_unique_name(self._studios, rec, "Studio")
        if "parent_id" in inp:
            parent = self._ref(inp["parent_id"], self._studios, "studio")
            if parent is not None and rec["id"] in self._studio_ancestors(parent):
                raise StashError("a studio cannot be an ancestor of itself")
            rec["parent_id"] = parent

    def _studio_ancestors(self, sid: int) -> set[int]:
        out: set[int] = set()
        while sid is not None and sid not in out:
            out.add(sid)
            sid = self._studios[sid]["parent_id"]
        return out

    def _apply_tag(self, rec: dict, inp: dict) -> None:
        self._apply_common(rec, inp, ("description", "aliases", "ignore_auto_tag", "favorite"))
        self._check_unique_name(self._tags, rec, "Tag")
        if "parent_ids" in inp:
            rec["parent_ids"] = self._refs(inp["parent_ids"], self._tags, "tag")
        if "child_ids" in inp:
            children = self._refs(inp["child_ids"], self._tags, "tag")
            for tid, t in list(self._tags.items()):  # new dicts swapped in: stored ones never change
                if t["id"] in children and rec["id"] not in t["parent_ids"]:
                    self._tags[tid] = dict(t, parent_ids=[*t["parent_ids"], rec["id"]])
                elif t["id"] not in children and rec["id"] in t["parent_ids"]:
                    self._tags[tid] = dict(t, parent_ids=[p for p in t["parent_ids"] if p != rec["id"]])

    def _apply_group(self, rec: dict, inp: dict) -> None:
        self._apply_common(rec, inp, ("aliases", "duration", "rating100", "director", "synopsis",
                                      "urls"))
        if "date" in inp:
            rec["date"] = validate_date(inp["date"])
        if "studio_id" in inp:
            rec["studio_id"] = self._ref(inp["studio_id"], self._studios, "studio")

    def _m_performer_update(self, _r: Any, info: Any, input: dict) -> dict:
        return self._update_object(info, input, self._performers, "performer",
                                   "Performer.Update.Post", "PerformerUpdateInput", self._apply_performer)

    def _m_studio_update(self, _r: Any, info: Any, input: dict) -> dict:
        return self._update_object(info, input, self._studios, "studio",
                                   "Studio.Update.Post", "StudioUpdateInput", self._apply_studio)

    def _m_tag_update(self, _r: Any, info: Any, input: dict) -> dict:
        return self._update_object(info, input, self._tags, "tag",
                                   "Tag.Update.Post", "TagUpdateInput", self._apply_tag)

    def _m_group_update(self, _r: Any, info: Any, input: dict) -> dict:
        return self._update_object(info, input, self._groups, "group",
                                   "Group.Update.Post", "GroupUpdateInput", self._apply_group)

    def _m_configure_plugin(self, _r: Any, _info: Any, plugin_id: str, input: dict) -> dict:
        self.set_plugin_config(plugin_id, input)
        return self.plugin_config(plugin_id)

    def _require_host(self) -> StashHost:
        if self.host is None:
            raise StashError("no plugin host attached to the simulated Stash")
        return self.host

    def _m_run_plugin_task(self, _r: Any, _info: Any, plugin_id: str, task_name: str | None = None,
                           description: str | None = None, args: list[dict] | None = None,
                           args_map: dict | None = None) -> str:
        # args (deprecated list) is used only when args_map is null (resolver_mutation_plugin.go)
        if args_map is None:
            args_map = plugin_args_to_map(args or [])
        return str(self._require_host().run_task(plugin_id, task_name, args_map, description))

    def _m_metadata_auto_tag(self, _r: Any, _info: Any, input: dict) -> str:
        """A job in Stash's queue ("Auto-tagging...", manager_tasks.go); it fires no hook."""
        args = {k: input.get(k) for k in ("paths", "performers", "studios", "tags")}
        return str(self._require_host().add_job("Auto-tagging...", lambda _ctx: self.auto_tag(**args)))

    def _m_stop_job(self, _r: Any, _info: Any, job_id: str) -> bool:
        return bool(self._require_host().stop_job(str(job_id)))

    # ------------------------------------------------------------------ query resolvers

    def _scene_source(self, sid: int) -> dict | None:
        with self._lock:
            return self._scenes.get(sid)  # read-only for graphql-core (see "Stored records" above)

    def _q_find_scene(self, _r: Any, _info: Any, id: str | None = None,
                      checksum: str | None = None) -> dict | None:
        if id is not None:
            try:
                return self._scene_source(int(id))
            except ValueError:
                return None
        if checksum:
            with self._lock:
                for rec in self._scenes.values():
                    if any(checksum in (f["md5"], f["oshash"]) for f in rec["files"]):
                        return rec
        return None

    def _scene_matches(self, rec: dict, sf: dict) -> bool:
        """SceneFilterType: own criteria ANDed; AND/OR/NOT combine with the sub-filter like Stash."""
        ok = all(self._scene_criterion(rec, key, crit) for key, crit in sf.items()
                 if crit is not None and key not in ("AND", "OR", "NOT"))
        if sf.get("AND") is not None:
            ok = ok and self._scene_matches(rec, sf["AND"])
        if sf.get("OR") is not None:
            ok = ok or self._scene_matches(rec, sf["OR"])
        if sf.get("NOT") is not None:
            ok = ok and not self._scene_matches(rec, sf["NOT"])
        return ok

    def _scene_criterion(self, rec: dict, key: str, crit: Any) -> bool:
        if key == "id":
            return _cmp_int(rec["id"], crit)
        if key in ("title", "code", "details", "director"):
            return _cmp_string(rec[key], crit)
        if key == "path":
            paths = [f["path"] for f in rec["files"]] or [None]
            negative = crit["modifier"] in ("EXCLUDES", "NOT_EQUALS", "NOT_MATCHES_REGEX")
            return (all if negative else any)(_cmp_string(p, crit) for p in paths)
        if key == "url":
            return any(_cmp_string(u, crit) for u in rec["urls"] or [None])
        if key == "rating100":
            return _cmp_int(rec["rating100"], crit)
        if key == "organized":
            return rec["organized"] == crit
        if key in ("date", "created_at", "updated_at"):
            return _cmp_text(rec[key], crit)
        if key == "studios":
            depth = crit.get("depth") or 0
            return _cmp_multi({rec["studio_id"]} if rec["studio_id"] else set(), crit,
                              lambda s: self._studio_descendants(s, depth))
        if key == "tags":
            depth = crit.get("depth") or 0
            return _cmp_multi(set(rec["tag_ids"]), crit, lambda t: self._tag_descendants(t, depth))
        if key == "performers":
            return _cmp_multi(set(rec["performer_ids"]), crit)
        if key == "groups":
            return _cmp_multi({g for g, _ in rec["groups"]}, crit)
        raise StashError(f"scene filter {key} is not supported by the sandbox")

    def _sort_key(self, sort: str) -> Callable[[dict], Any]:
        def title(rec: dict) -> Any:
            name = rec["title"] or (rec["files"][0]["basename"] if rec["files"] else "")
            return name.lower()
        keys: dict[str, Callable[[dict], Any]] = {
            "title": title, "id": lambda r: r["id"], "date": lambda r: r["date"] or "",
            "updated_at": lambda r: r["updated_at"], "created_at": lambda r: r["created_at"],
            "rating": lambda r: r["rating100"] or 0, "rating100": lambda r: r["rating100"] or 0,
            "path": lambda r: r["files"][0]["path"] if r["files"] else "",
            "filesize": lambda r: r["files"][0]["size"] if r["files"] else 0,
            "duration": lambda r: r["files"][0]["duration"] if r["files"] else 0,
            "organized": lambda r: r["organized"],
        }
        if sort not in keys:
            raise StashError(f"invalid sort: {sort}")
        return keys[sort]

    def _q_find_scenes(self, _r: Any, _info: Any, scene_filter: dict | None = None,
                       scene_ids: list[int] | None = None, ids: list[str] | None = None,
                       filter: dict | None = None) -> dict:
        ff = filter or {}
        wanted = None
        if ids is not None or scene_ids is not None:
            wanted = {int(i) for i in (ids or [])} | set(scene_ids or [])
        sort = ff.get("sort") or "title"
        key = self._sort_key(sort)
        with self._lock:
            cache_key = (self._versions.value, json.dumps(
                [scene_filter, sorted(wanted) if wanted is not None else None, ff.get("q"), sort,
                 ff.get("direction") == "DESC"], sort_keys=True, default=str))
            rows = self._listings.get_or_make(cache_key, lambda: self._scene_listing(
                scene_filter, wanted, ff.get("q"), key, ff.get("direction") == "DESC"))
        count = len(rows)
        per_page = ff.get("per_page")
        per_page = 25 if per_page is None else per_page
        page = ff.get("page") or 1
        page = 1 if page < 1 else page
        scenes = rows[(page - 1) * per_page: page * per_page] if per_page >= 0 else rows
        # duration and filesize are summed only when asked for, as Stash's resolver does (it passes
        # TotalDuration/TotalSize to the query only when those fields are selected).
        return {"count": count, "scenes": scenes, "_matched": rows}

    def _scene_listing(self, scene_filter: dict | None, wanted: set[int] | None, q: str | None,
                       key: Callable[[dict], Any], descending: bool) -> list[dict]:
        """Every matching scene in result order (the caller holds the lock; the result is cached until
        the next write, as an index spares Stash a sort per page)."""
        rows = list(self._scenes.values())
        if wanted is not None:
            rows = [r for r in rows if r["id"] in wanted]
        if scene_filter:
            rows = [r for r in rows if self._scene_matches(r, scene_filter)]
        if q:
            terms = _search_terms(q)
            def hit(r: dict) -> bool:
                hay = " ".join(filter_none([r["title"], r["details"], r["code"],
                                            *[f["path"] for f in r["files"]],
                                            *[f["oshash"] for f in r["files"]]])).lower()
                return all(t in hay for t in terms)
            rows = [r for r in rows if hit(r)]
        rows.sort(key=lambda r: (key(r), r["id"]), reverse=descending)
        return rows

    def _q_find(self, table: dict[int, dict]) -> Callable[..., dict | None]:
        def resolve(_r: Any, _info: Any, id: str) -> dict | None:
            with self._lock:
                try:
                    return table.get(int(id))
                except ValueError:
                    return None
        return resolve

    def _q_configuration(self, _r: Any, _info: Any) -> dict:
        return {"general": {"apiKey": self.api_key, "username": self.username or "",
                            "maxSessionAge": 3600, "pluginsPath": self.plugins_path,
                            "pythonPath": ""},
                "ui": {}}

    def _r_config_plugins(self, _src: Any, _info: Any, include: list[str] | None = None) -> dict:
        with self._lock:
            # Only plugins with saved values appear (resolver_model_config.go).
            return {pid: copy.deepcopy(cfg) for pid, cfg in self._plugin_configs.items()
                    if cfg and (include is None or pid in include)}

    def _q_system_status(self, _r: Any, _info: Any) -> dict:
        return {"databaseSchema": 75, "databasePath": f"{self.config_dir}/stash-go.sqlite",
                "configPath": f"{self.config_dir}/config.yml", "appSchema": 75, "status": "OK",
                "os": "linux", "workingDir": self.config_dir, "homeDir": "/root",
                "ffmpegPath": "/usr/bin/ffmpeg", "ffprobePath": "/usr/bin/ffprobe"}

    def _q_job_queue(self, _r: Any, _info: Any) -> list[dict]:
        if self.host is None:
            return []
        return [self._job(j) for j in self.host.job_queue()]

    def _q_find_job(self, _r: Any, _info: Any, input: dict) -> dict | None:
        if self.host is None:
            return None
        job = self.host.find_job(str(input["id"]))
        return self._job(job) if job else None

    @staticmethod
    def _job(job: dict) -> dict:
        out = dict(job)
        out["id"] = str(out["id"])
        out.setdefault("description", "")
        return out

    # ------------------------------------------------------------------ field resolvers

    def _base_url(self, info: Any) -> str:
        return info.context.get("base_url") or self.url

    def _attach_resolvers(self, schema: GraphQLSchema) -> None:
        def field(type_name: str, name: str, fn: Callable[..., Any]) -> None:
            schema.type_map[type_name].fields[name].resolve = fn  # type: ignore[union-attr]

        lock = self._lock

        # Stored records are handed out as they are: graphql-core only reads them, and no edit changes a
        # stored record in place (see "Stored records" in the class docstring).
        def get(table: dict[int, dict], oid: int | None) -> dict | None:
            return None if oid is None else table.get(oid)

        def many(table: dict[int, dict], oids: Iterable[int]) -> list[dict]:
            return [rec for o in oids if (rec := table.get(o)) is not None]

        q, m = "Query", "Mutation"
        field(q, "findScene", self._q_find_scene)
        field(q, "findScenes", self._q_find_scenes)
        field(q, "findPerformer", self._q_find(self._performers))
        field(q, "findStudio", self._q_find(self._studios))
        field(q, "findTag", self._q_find(self._tags))
        field(q, "findGroup", self._q_find(self._groups))
        field(q, "configuration", self._q_configuration)
        field(q, "systemStatus", self._q_system_status)
        field(q, "jobQueue", self._q_job_queue)
        field(q, "findJob", self._q_find_job)
        field(q, "version", lambda *_: dict(STASH_VERSION))
        field(m, "sceneUpdate", self._m_scene_update)
        field(m, "bulkSceneUpdate", self._m_bulk_scene_update)
        field(m, "sceneDestroy", self._m_scene_destroy)
        field(m, "performerUpdate", self._m_performer_update)
        field(m, "studioUpdate", self._m_studio_update)
        field(m, "tagUpdate", self._m_tag_update)
        field(m, "groupUpdate", self._m_group_update)
        field(m, "configurePlugin", self._m_configure_plugin)
        field(m, "runPluginTask", self._m_run_plugin_task)
        field(m, "stopJob", self._m_stop_job)
        field(m, "metadataAutoTag", self._m_metadata_auto_tag)
        field("ConfigResult", "plugins", self._r_config_plugins)
        field("FindScenesResultType", "duration",
              lambda r, _i: sum(s["files"][0]["duration"] for s in r["_matched"] if s["files"]))
        field("FindScenesResultType", "filesize",
              lambda r, _i: float(sum(s["files"][0]["size"] for s in r["_matched"] if s["files"])))

        # Scene
        field("Scene", "url", lambda s, _i: s["urls"][0] if s["urls"] else None)
        field("Scene", "interactive", lambda s, _i: False)
        field("Scene", "studio", lambda s, _i: get(self._studios, s["studio_id"]))
        field("Scene", "performers", lambda s, _i: many(self._performers, s["performer_ids"]))
        field("Scene", "tags", lambda s, _i: many(self._tags, s["tag_ids"]))
        field("Scene", "groups", lambda s, _i: [
            {"group": g, "scene_index": idx}
            for gid, idx in s["groups"] if (g := get(self._groups, gid)) is not None])
        field("Scene", "paths", lambda s, i: {
            "screenshot": f"{self._base_url(i)}/scene/{s['id']}/screenshot?t={s['updated_ts']}",
            "stream": f"{self._base_url(i)}/scene/{s['id']}/stream",
        })
        field("VideoFile", "fingerprints", lambda f, _i: [{"type": "oshash", "value": f["oshash"]},
                                                          {"type": "md5", "value": f["md5"]}])

        # Studio / Performer / Tag / Group
        def scene_count(pred: Callable[[dict], bool]) -> int:
            with lock:
                return sum(1 for s in self._scenes.values() if pred(s))

        field("Studio", "parent_studio", lambda s, _i: get(self._studios, s["parent_id"]))
        field("Studio", "child_studios", lambda s, _i: many(
            self._studios, [c["id"] for c in list(self._studios.values()) if c["parent_id"] == s["id"]]))
        field("Studio", "tags", lambda s, _i: many(self._tags, s["tag_ids"]))
        field("Studio", "image_path", lambda s, i: self._image_url(i, "studio", s, "image", "image"))
        field("Studio", "scene_count", lambda s, _i, depth=None: scene_count(
            lambda sc: sc["studio_id"] in self._studio_descendants(s["id"], depth or 0)))
        field("Performer", "tags", lambda p, _i: many(self._tags, p["tag_ids"]))
        field("Performer", "image_path", lambda p, i: self._image_url(i, "performer", p, "image", "image"))
        field("Performer", "scene_count", lambda p, _i: scene_count(
            lambda sc: p["id"] in sc["performer_ids"]))
        field("Tag", "parents", lambda t, _i: many(self._tags, t["parent_ids"]))
        field("Tag", "children", lambda t, _i: many(
            self._tags, [c["id"] for c in list(self._tags.values()) if t["id"] in c["parent_ids"]]))
        field("Tag", "image_path", lambda t, i: self._image_url(i, "tag", t, "image", "image"))
        field("Tag", "scene_count", lambda t, _i, depth=None: scene_count(
            lambda sc: bool(set(sc["tag_ids"]) & self._tag_descendants(t["id"], depth or 0))))
        field("Group", "studio", lambda g, _i: get(self._studios, g["studio_id"]))
        field("Group", "tags", lambda g, _i: many(self._tags, g["tag_ids"]))
        field("Group", "front_image_path", lambda g, i: self._image_url(i, "group", g, "frontimage",
                                                                        "front_image"))
        field("Group", "scene_count", lambda g, _i, depth=None: scene_count(
            lambda sc: g["id"] in [x for x, _ in sc["groups"]]))

    def _image_url(self, info: Any, kind: str, rec: dict, route: str, slot: str) -> str:
        """As Stash's urlbuilders build it: ?t=<updated_at unix> (changes with every edit of the object),
        plus &default=true when the object has no image (Stash then serves its default picture)."""
        url = f"{self._base_url(info)}/{kind}/{rec['id']}/{route}?t={rec['updated_ts']}"
        return url if rec.get(slot) else url + "&default=true"

    def object_image(self, kind: str, object_id: int, route: str) -> bytes | None:
        """The stored image bytes behind /studio|performer|tag/{id}/image and /group/{id}/frontimage."""
        table = {"studio": self._studios, "performer": self._performers, "tag": self._tags,
                 "group": self._groups}[kind]
        slot = {"image": "image", "frontimage": "front_image", "backimage": "back_image"}[route]
        with self._lock:
            rec = table.get(object_id)
            return rec.get(slot) if rec else None

    def _build_schema(self) -> GraphQLSchema:
        schema = build_schema(SCHEMA_PATH.read_text())
        schema.type_map["Time"].serialize = _serialize_time  # type: ignore[union-attr]
        self._attach_resolvers(schema)
        return schema

    # ------------------------------------------------------------------ request execution

    def execute_request(self, body: dict, base_url: str, visited: Visited,
                        allow_mutation: bool = True) -> tuple[int, dict]:
        """Run one GraphQL request; (HTTP status, response JSON) like gqlgen (422 on bad documents)."""
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return 422, {"errors": [{"message": "no operation provided",
                                     "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}
        try:
            # Parsed and validated once per query text, as gqlgen's query cache does for Stash.
            document, errors = self._documents.get_or_make(query, lambda: self._parse_and_validate(query))
        except GraphQLSyntaxError as exc:
            self._log_graphql("(invalid)", [])
            return 422, {"errors": [dict(exc.formatted, extensions={"code": "GRAPHQL_PARSE_FAILED"})]}
        op_name = body.get("operationName")
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        op = next((o for o in ops if o.name and o.name.value == op_name), ops[0] if ops else None)
        name = (op.name.value if op and op.name else None) or "(anonymous)"
        roots = [s.name.value for s in op.selection_set.selections if hasattr(s, "name")] if op else []
        self._log_graphql(name, roots)
        if op is not None and op.operation.value != "query" and not allow_mutation:
            # gqlgen's GET transport only runs queries
            return 406, {"errors": [{"message": "GET requests only allow query operations"}]}
        if errors:
            return 422, {"errors": [dict(e.formatted, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})
                                    for e in errors]}
        variables = body.get("variables") or {}
        # Synchronous resolvers only, plain fields read directly: sandbox/stash_executor.py.
        result = execute_graphql(self.schema, document, variables, op_name,
                                 {"base_url": base_url, "visited": visited})
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [self._format_error(e) for e in result.errors]
        return 200, out

    def _parse_and_validate(self, query: str) -> tuple[Any, list[GraphQLError]]:
        document = parse(query)
        return document, validate(self.schema, document)

    @staticmethod
    def _format_error(err: GraphQLError) -> dict:
        formatted = dict(err.formatted)
        original = err.original_error
        if original is not None and not isinstance(original, (StashError, GraphQLError)):
            formatted["message"] = f"{type(original).__name__}: {original}"
        return formatted


def _serialize_time(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot serialise {value!r} as Time")


# ---------------------------------------------------------------------------------------------- HTTP

_SCREENSHOT_RE = re.compile(r"^/scene/(\d+)/screenshot/?$")
_PLUGIN_ASSET_RE = re.compile(r"^/plugin/([^/]+)/assets(?:/.*)?$")
_OBJECT_IMAGE_RE = re.compile(r"^/(studio|performer|tag|group)/(\d+)/(image|frontimage|backimage)/?$")
_DEFAULT_IMAGE = _png(20, 20, (128, 128, 128))  # what Stash serves for ?default=true


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive + Nagle + delayed ACK cost ~40 ms per request otherwise
    server_version = "stash-sandbox"

    @property
    def sim(self) -> StashSim:
        return self.server.sim  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.sim._log_http(self.command, urlsplit(self.path).path, status)

    def _send_json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode())

    def _base_url(self) -> str:
        # paths.screenshot is built from the request's Host header (internal/api/server.go)
        return f"{self.sim.scheme}://{self.headers.get('Host') or f'127.0.0.1:{self.sim.port}'}"

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _auth(self, query: dict[str, list[str]]) -> tuple[bool, Visited]:
        ok, visited = self.sim._authenticate(self.headers, query)
        if not ok:
            self._send(401, b"401 Unauthorized\n", "text/plain; charset=utf-8")
        return ok, visited

    def _latency(self) -> None:
        if self.sim._latency_s:
            time.sleep(self.sim._latency_s)

    def do_POST(self) -> None:
        self._latency()
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        raw = self._read_body()
        if parts.path == "/login":
            form = parse_qs(raw.decode(errors="replace"))
            cookie = self.sim.login((form.get("username") or [""])[0], (form.get("password") or [""])[0])
            if cookie is None:
                self._send(401, b"invalid credentials\n", "text/plain; charset=utf-8")
            else:
                self._send(200, b"", "text/plain", {"Set-Cookie": f"session={cookie}; Path=/; HttpOnly"})
            return
        if parts.path != "/graphql":
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        if self.sim._graphql_failure is not None:
            self._send(self.sim._graphql_failure, b"internal error\n", "text/plain; charset=utf-8")
            return
        ok, visited = self._auth(query)
        if not ok:
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            self._send_json(400, {"errors": [{"message": f"json request body could not be decoded: {exc}"}]})
            return
        intercept = self.sim._graphql_intercept
        failure = intercept(body) if intercept is not None else None
        if failure is not None:
            self._send(failure, b"internal error\n", "text/plain; charset=utf-8")
            return
        status, payload = self.sim.execute_request(body, self._base_url(), visited)
        self._send_json(status, payload)

    def do_GET(self) -> None:
        self._latency()
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/graphql":
            ok, visited = self._auth(query)
            if not ok:
                return
            body: dict[str, Any] = {"query": (query.get("query") or [""])[0],
                                    "operationName": (query.get("operationName") or [None])[0]}
            if query.get("variables"):
                try:
                    body["variables"] = json.loads(query["variables"][0])
                except ValueError:
                    self._send_json(400, {"errors": [{"message": "variables could not be decoded"}]})
                    return
            status, payload = self.sim.execute_request(body, self._base_url(), visited,
                                                       allow_mutation=False)
            self._send_json(status, payload)
            return
        m = _SCREENSHOT_RE.match(parts.path)
        if m:
            ok, _ = self._auth(query)
            if not ok:
                return
            try:
                data = self.sim.screenshot_bytes(int(m.group(1)))
            except StashError:
                self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
                return
            self._send(200, data, image_content_type(data), {"Cache-Control": "no-cache"})
            return
        if parts.path.startswith("/plugin/"):
            self._plugin_asset(parts.path, parts.query, query)
        m = _OBJECT_IMAGE_RE.match(parts.path)
        if m and (m.group(1) == "group") == (m.group(3) != "image"):
            ok, _ = self._auth(query)
            if not ok:
                return
            data = self.sim.object_image(m.group(1), int(m.group(2)), m.group(3))
            if data is None and query.get("default") == ["true"]:
                data = _DEFAULT_IMAGE
            if data is None:
                self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
                return
            self._send(200, data, image_content_type(data), {"Cache-Control": "no-cache"})
            return
        if parts.path in ("/", "/healthz"):
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
            return
        self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _plugin_asset(self, raw_path: str, raw_query: str, query: dict[str, list[str]]) -> None:
        """GET /plugin/<id>/assets/...: Stash's plugin route behind its login (sandbox/stash_assets.py)."""
        path = unquote(raw_path)
        m = _PLUGIN_ASSET_RE.match(path)
        if m is None or self.sim.host is None:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        ok, _visited, via = self.sim._authenticate_via(self.headers, query)
        if via == "apikey" and not ok:
            self._send(401, b"", "text/plain; charset=utf-8", {"WWW-Authenticate": "FormBased"})
            return
        if ok:
            plugin, enabled = self.sim.host.plugin_for_assets(m.group(1))
            status, body, headers = serve_asset(plugin, enabled, m.group(1), path)
        else:
            status, body, headers = needs_login_reply(path, raw_query)
        content_type = headers.pop("Content-Type", "text/plain; charset=utf-8")
        self._send(status, body, content_type, headers)

    do_HEAD = do_GET
