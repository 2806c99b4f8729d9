"""Bad input, property-based (hypothesis): stdin payloads, hook contexts, settings values, Stash scene data.

Whatever arrives, the plugin prints exactly one JSON object on stdout, exits 0, writes no traceback and
no stderr line over 64 KiB, and the queue database passes PRAGMA integrity_check. Most cases run
in-process (PlexSync.run with stderr captured through stash.log.set_stream); a sample runs as real
processes the way Stash starts them; a sample of odd scene data goes through the real sync into Plex.
"""
from __future__ import annotations

import io
import json
import os
import random
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import PlexSync
from sandbox import PLEX_TOKEN, STASH_API_KEY, STASH_PASSWORD, Sandbox
from stash import log
from tests.reliability import helpers as h
from tests.reliability.report import record_figures

MAX_STDERR_LINE = 64 * 1024
COUNTS: dict[str, int] = {}
FINDINGS: dict[str, object] = {}
FUZZ = settings(deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

# --- strategies ---------------------------------------------------------------------------------------
def carries_no_secret(value: object) -> bool:
    """Hypothesis mixes string constants from the project's own modules into generated text, the sandbox's
    secrets among them. Handed to the plugin as plain data (a hook type) such a string is echoed like any
    other, and the plugin cannot know it is a secret: generated inputs never carry one, so the session's
    secrets scan (tests/conftest.py) still means "the plugin printed a secret it was given as one"."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else json.dumps(value, default=str)
    return not any(secret in text for secret in (PLEX_TOKEN, STASH_API_KEY, STASH_PASSWORD))


odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x1F), max_size=20),
    st.sampled_from(["", " ", "\x00", "\ud800", "a\udfffb", "\ufeff", "e\u0301", "👩‍👩‍👧", "\u202e", "../..",
                     "%s%n", "{}", "null", "\r\n", "\t\x0b\x0c"]),
    st.integers(1, 3).map(lambda n: "Z" * (100_000 * n)),           # 100 KB strings
)
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                      odd_text)
json_value = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), c, max_size=4)),
                          max_leaves=12)
dates = st.one_of(st.sampled_from(["2020", "2020-05", "2020-05-07", "2020-13-45", "0000-00-00", "20", "",
                                   "2020-5-7", " 2021-01-01 ", "９９９９"]), odd_text, st.none(), st.integers())
HOOK_TYPES = ["Scene.Update.Post", "Scene.Create.Post", "Scene.Destroy.Post", "Performer.Update.Post",
              "Studio.Update.Post", "Tag.Update.Post", "Group.Update.Post"]


class World:
    """One sandbox Stash + plugin data folder shared by the in-process fuzz cases."""
    sb: Sandbox
    plugin_dir: str


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    # The plugin is not installed in this Stash: a hook's drain request fails at once (no process).
    with Sandbox(str(root / "sb"), scenes=5, plex_items=10, install_plugin=False) as sb:
        w = World()
        w.sb, w.plugin_dir = sb, str(root / "plugin")
        os.makedirs(w.plugin_dir)
        yield w


def connection(w: World, **overrides) -> dict:
    conn = {"Scheme": "http", "Host": "0.0.0.0", "Port": w.sb.stash.port, "Dir": "/tmp", "PluginDir": w.plugin_dir,
            "SessionCookie": None}
    conn.update(overrides)
    return conn


def run_in_process(stdin: bytes) -> tuple[int, str, bytes]:
    out, err = io.StringIO(), io.BytesIO()
    log.set_stream(err)
    try:
        rc = PlexSync.run(io.BytesIO(stdin), out)
    finally:
        log.set_stream(None)
        log.set_debug(False)
    return rc, out.getvalue(), err.getvalue()


def check_result(rc: int, stdout: str, stderr: bytes) -> dict:
    assert rc == 0
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout[:300]
    result = json.loads(lines[0])
    assert isinstance(result, dict) and set(result) == {"output", "error"}, result
    assert result["error"] is None or isinstance(result["error"], str)
    assert b"Traceback" not in stderr
    for line in stderr.split(b"\n"):
        assert len(line) <= MAX_STDERR_LINE
    from sandbox.capture import capture
    capture("stdout", stdout)
    capture("stderr", stderr)
    return result


def integrity_ok(plugin_dir: str) -> None:
    path = os.path.join(plugin_dir, "data", "plexsync.db")
    if os.path.exists(path):
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


# --- stdin payloads -----------------------------------------------------------------------------------
def stdin_payloads(w: World):
    safe_dirs = st.sampled_from([w.plugin_dir, os.path.join(w.plugin_dir, "nested", "deeper"), None, 17,
                                 os.path.join(w.plugin_dir, "file-not-dir")])
    conn = st.fixed_dictionaries({}, optional={
        "Scheme": st.one_of(st.sampled_from(["http", "HTTP", "https", "ftp", ""]), json_leaf),
        "Host": st.one_of(st.sampled_from(["0.0.0.0", "127.0.0.1", "::", "", "localhost"]), json_leaf),
        "Port": st.one_of(st.just(w.sb.stash.port), st.sampled_from([1, 0, 65536, -1, "9999", "x"]), json_leaf),
        "SessionCookie": st.one_of(st.none(), st.fixed_dictionaries({"Value": odd_text}), json_value),
        "PluginDir": safe_dirs, "Dir": json_leaf})
    args = st.one_of(st.dictionaries(st.text(max_size=10), json_value, max_size=3),
                     st.fixed_dictionaries({"mode": json_leaf.filter(lambda m: m not in PlexSync.TASKS)}),
                     json_value)
    structured = st.builds(lambda c, a: json.dumps({"server_connection": c, "args": a}).encode(
        "utf-8", "surrogatepass"), st.one_of(conn, json_value), args)
    return st.one_of(st.binary(max_size=200), json_value.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass")),
                     structured, st.sampled_from([b"", b"{", b"\xef\xbb\xbf{}", b"[" * 5000, b'{"args":' * 3000,
                                                  b"\xff\xfe{}", b"null"])).filter(carries_no_secret)


def hook_contexts():
    return st.fixed_dictionaries({}, optional={
        "id": st.one_of(st.integers(-5, 2**64), st.sampled_from(["3", " 4 ", "x", "", "1e3", "٣"]), json_leaf),
        "type": st.one_of(st.sampled_from(HOOK_TYPES), json_leaf),
        "input": st.one_of(st.none(), json_value,
                           st.dictionaries(st.sampled_from(["title", "details", "date", "tag_ids", "id"]),
                                           json_value, max_size=4)),
        "inputFields": st.one_of(st.lists(st.one_of(st.sampled_from(["title", "date", "o_counter"]), json_leaf),
                                          max_size=5), json_leaf),
        "updated_at": st.one_of(dates, json_leaf)}).filter(carries_no_secret)


SETTING_KEYS = ["plex_url", "plex_token", "plex_libraries", "path_map", "pause_sync", "allow_uncertain_matches",
                "preserve_plex_edits", "skip_title", "skip_cover", "max_retries", "drain_slice_seconds",
                "connect_timeout", "read_timeout", "dry_run", "debug_logging", "verify_stash_tls",
                "collections_from_studio", "unknown_key"]


def settings_maps():
    value = st.one_of(json_leaf, st.sampled_from(["true", "false", "0", "-1", "1e309", "nan", "inf", "http://",
                                                  "http://[::1", "/a=>", "=>", "a=>b\n=>c", "x" * 70_000]))
    return st.dictionaries(st.sampled_from(SETTING_KEYS), value, max_size=8).filter(carries_no_secret)


def test_fuzz_stdin_hooks_settings_in_process(world):
    w = world

    @settings(FUZZ, max_examples=700)
    @given(stdin_payloads(w))
    def stdin_case(stdin: bytes) -> None:
        check_result(*run_in_process(stdin))
        count("stdin payloads (in-process)")

    @settings(FUZZ, max_examples=700)
    @given(hook_contexts(), st.one_of(st.none(), odd_text.filter(carries_no_secret)))
    def hook_case(ctx: dict, cookie) -> None:
        conn = connection(w, SessionCookie={"Name": "session", "Value": cookie} if cookie is not None else None)
        stdin = json.dumps({"server_connection": conn, "args": {"hookContext": ctx}}).encode("utf-8", "surrogatepass")
        check_result(*run_in_process(stdin))
        count("hook contexts (in-process)")

    @settings(FUZZ, max_examples=300)
    @given(settings_maps(), st.sampled_from(HOOK_TYPES[:2]))
    def settings_case(values: dict, hook_type: str) -> None:
        from validation.config import load_settings
        loaded = load_settings(values)  # never raises: problems are reported, defaults used
        assert isinstance(loaded.problems, list)
        w.sb.stash.set_plugin_config("PlexSync", values)
        stdin = json.dumps({"server_connection": connection(w), "args": {"hookContext": {
            "id": 2, "type": hook_type, "input": None}}}).encode("utf-8", "surrogatepass")
        check_result(*run_in_process(stdin))
        count("settings values (in-process hook)")

    stdin_case()
    hook_case()
    settings_case()
    integrity_ok(w.plugin_dir)
    assert w.sb.host.wait_idle(30)


def scene_dicts(wrong_types: bool = False):
    """Scenes shaped as Stash's GraphQL returns them (strings or null, lists of {name}), with odd text and
    partial dates; with wrong_types, any JSON value in any field (no real Stash sends that)."""
    text = st.one_of(st.none(), odd_text)
    named = st.one_of(st.none(), st.lists(st.fixed_dictionaries({"id": st.just("1"), "name": odd_text}), max_size=4))
    shaped = st.fixed_dictionaries({}, optional={
        "id": st.just("1"), "title": text, "details": text, "code": text, "director": text, "date": dates,
        "rating100": st.one_of(st.none(), st.integers(0, 100)), "urls": st.lists(odd_text, max_size=3),
        "studio": st.one_of(st.none(), st.fixed_dictionaries({"id": st.just("1"), "name": odd_text})),
        "performers": named, "tags": named,
        "groups": st.lists(st.fixed_dictionaries({"scene_index": st.one_of(st.none(), st.integers()),
                                                  "group": st.fixed_dictionaries({"name": odd_text})}), max_size=2),
        "files": st.lists(st.fixed_dictionaries({"path": odd_text, "basename": odd_text}), max_size=2)})
    if not wrong_types:
        return shaped
    keys = ["title", "details", "code", "director", "date", "rating100", "urls", "studio", "performers", "tags",
            "groups", "files"]
    return st.dictionaries(st.sampled_from(keys), json_value, max_size=6)


WRONG_TYPE_FAILURES: list[str] = []


def test_fuzz_scene_data_mapping():
    from validation.config import load_settings
    from validation.metadata import desired_plex_fields
    import re
    illegal = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
    variants = [load_settings({}).settings,
                load_settings({"collections_from_studio": True, "collections_from_groups": True,
                               "preserve_plex_edits": True}).settings,
                load_settings({"title_template": "{performers} - {title} [{group} #{scene_index}] ({date})",
                               "sort_title_template": "{year} {first_performer} {parent_studio}",
                               "tag_destination": "both", "content_rating": "XXX"}).settings]

    @settings(FUZZ, max_examples=500)
    @given(scene_dicts(), st.sampled_from(variants))
    def case(scene: dict, config) -> None:
        fields = desired_plex_fields(scene, config)
        for name, value in fields.values.items():
            for text in (value if isinstance(value, tuple) else (value,)):
                if isinstance(text, str):
                    assert not illegal.search(text), (name, text[:40])
                    if name in ("title", "titleSort", "studio", "tagline"):
                        assert len(text) <= 255
        count("scene dicts -> desired_plex_fields")

    @settings(FUZZ, max_examples=200)
    @given(scene_dicts(wrong_types=True))
    def wrong(scene: dict) -> None:
        # No real Stash sends these shapes (GraphQL types them), but one must never stop a drain.
        try:
            desired_plex_fields(scene, variants[0])
            desired_plex_fields(scene, variants[2])  # title templates read every scene field
        except (TypeError, AttributeError, ValueError) as exc:
            WRONG_TYPE_FAILURES.append(f"{type(exc).__name__}: {exc}")
        count("scene dicts with wrong types -> desired_plex_fields")

    case()
    wrong()
    COUNTS["wrong-type scene dicts the mapping rejected with an exception"] = len(WRONG_TYPE_FAILURES)
    assert WRONG_TYPE_FAILURES == []


def test_fuzz_scene_data_round_trips_through_real_sync(tmp_path):
    """Odd strings saved in Stash reach Plex exactly as sanitised (what XML 1.0 cannot carry removed)."""
    rng = random.Random(606)
    samples = ["\x00\x01title\x1f", "Zoë’s “Night” 🌙‍✨ e\u0301", "tab\there\nnew line\r\nCRLF", "\ud800lone",
               "<xml attr=\"&amp;\"> ]]>", "T" * 300, "\u202eRTL\u202c", "%00%s{}", "  padded  ", "\ufeffBOM",
               "😀" * 200, "line\u2028sep\u2029para", "D" * 20_000]
    dates_ok = ["2020", "2020-05", "2019-12-31", None]
    with Sandbox(str(tmp_path / "sb"), scenes=30, plex_items=40) as sb:
        ids = h.comparable_scene_ids(sb)
        for batch in (ids[:14], ids[14:]):
            for sid in batch:
                sb.stash.touch_scene_without_hook(
                    sid, title=rng.choice(samples), details=rng.choice(samples), code=rng.choice(samples)[:300],
                    director=rng.choice(samples), date=rng.choice(dates_ok))
                count("scene data via real sync")
            h.record_pending(sb, batch)
            h.drain(sb)
            assert h.mismatches(sb, batch) == []
        assert h.integrity(h.db_path(sb)) == "ok"
        assert not [t for lvl, t in sb.host.log_snapshot() if lvl == "error"]
        # 100 KB details: plexapi sends an edit in the PUT's query string, and a request line that long is
        # refused (414 by the simulated Plex). The writer shortens the summary to fit, says so in the sync
        # line, and syncs every other field: never a dead letter, never a crash.
        sid = ids[0]
        sb.stash.touch_scene_without_hook(sid, details="D" * 100_000, title="hundred KB details")
        start = len(sb.host.log_snapshot())
        h.record_pending(sb, [sid])
        h.drain(sb)
        lines = [t for _lvl, t in sb.host.log_snapshot()[start:] if f"scene {sid} " in t]
        COUNTS["100 KB details via real sync"] = 1
        FINDINGS["100KB_details"] = {"synced": bool(lines), "log": lines[:1] and lines[0][-160:]}
        assert any("summary shortened to" in t for t in lines), lines
        assert not h.dead_letter_ids(sb) and not [j for j in h.queued_jobs(sb) if int(j["scene_id"]) == sid]


def test_fuzz_real_processes(tmp_path):
    """A sample of the stdin fuzz run as real processes, the way Stash starts the plugin."""
    with Sandbox(str(tmp_path / "sb"), scenes=5, plex_items=10, install_plugin=True) as sb:
        w = World()
        w.sb, w.plugin_dir = sb, sb.plugin_dir
        payloads: list[bytes] = []

        @settings(FUZZ, max_examples=150)
        @given(stdin_payloads(w))
        def collect_stdin(stdin: bytes) -> None:
            payloads.append(stdin)

        @settings(FUZZ, max_examples=100)
        @given(hook_contexts())
        def collect_hooks(ctx: dict) -> None:
            payloads.append(json.dumps({"server_connection": connection(w), "args": {"hookContext": ctx}})
                            .encode("utf-8", "surrogatepass"))

        collect_stdin()
        collect_hooks()
        # Hooks here reach the real plugin host: block its job queue so no drain runs meanwhile.
        import threading
        release = threading.Event()
        sb.host._jobs.add("Scanning...", lambda ctx: release.wait(300))
        try:
            def run(stdin: bytes) -> None:
                rc, out, err = h.finish(h.start_plugin(sb, stdin), timeout=60)
                check_result(0 if rc == 0 else rc, out.decode("utf-8"), err)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(run, payloads))
        finally:
            release.set()
            for job in sb.host.job_queue():
                sb.host.stop_job(job["id"])
        assert sb.host.wait_idle(60)
        COUNTS["stdin payloads and hook contexts (real processes)"] = len(payloads)
        integrity_ok(sb.plugin_dir)
    total = sum(v for k, v in COUNTS.items() if not k.startswith("wrong-type scene dicts the"))
    record_figures("fuzz", dict(COUNTS, total_cases=total, findings=FINDINGS,
                                wrong_type_examples=sorted(set(WRONG_TYPE_FAILURES))[:5]))
