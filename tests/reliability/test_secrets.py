"""Secrets: the Plex token, the session cookie values and the API key never appear in anything the
plugin printed during the test session (raw stdout and stderr of every plugin process, every log viewer
line: see sandbox/capture.py), nor in the queue database. tests/conftest.py repeats the scan over the
whole session at its end and fails the run on a find; this file runs last in tests/reliability/ and also
proves the scan finds what it looks for."""
from __future__ import annotations

import glob
import os

from sandbox import Sandbox
from sandbox.capture import ENV, ISSUED_SECRETS, capture
from tests.reliability import helpers as h
from tests.reliability.report import record_figures
from tests.reliability.secrets_scan import captured_bytes, capture_files, scan_bytes, scan_capture


def test_scan_finds_a_planted_secret(tmp_path):
    planted = tmp_path / "capture-1.log"
    planted.write_bytes(b"--- stderr\n\x01e\x02oops token=sandbox-plex-token\n")
    assert scan_capture(str(tmp_path), {"sandbox-plex-token"}) == [f"Plex token in {planted} at byte 25"]
    assert scan_bytes(b'{"c": "a%2Fb"}', {"a/b-secret-cookie"}) == []
    assert scan_bytes(b"x a%2Fb-secret-cookie", {"a/b-secret-cookie"})  # URL-quoted form is found too


def test_no_secret_in_anything_the_suite_captured(tmp_path, monkeypatch):
    assert os.environ.get(ENV), "tests/conftest.py sets the capture folder for the session"
    # Produce the riskiest output on purpose: auth on (cookies), debug logging, Plex rejecting the token,
    # Stash refusing requests, LOW-confidence review lines, the internal-error path.
    with Sandbox(str(tmp_path / "sb"), scenes=20, plex_items=40, auth=True) as sb:
        h.merge_config(sb, debug_logging=True)
        h.record_pending(sb, sb.world.scene_ids)
        h.drain(sb)                                            # synced + review lines, debug on
        reviews = [t for _l, t in sb.host.log_snapshot() if "LOW CONFIDENCE" in t]
        h.merge_config(sb, plex_token="wrong-" + sb.plex.token)  # 401 from Plex (a token-shaped value)
        h.record_pending(sb, sb.world.scene_ids[:3])
        h.drain(sb)
        h.merge_config(sb, plex_token=sb.plex.token)
        rc, _out, _err = h.finish(h.start_plugin(sb, h.hook_stdin(sb, 2, cookie="not-a-valid-session-cookie")))
        assert rc == 0
        sb.stash.fail_graphql(500)
        rc, _out, _err = h.finish(h.start_plugin(sb, h.hook_stdin(sb, 3)))
        sb.stash.fail_graphql(None)
        db_files = glob.glob(os.path.join(sb.info["data_dir"], "*"))
        db_findings = [f for path in db_files for f in scan_bytes(open(path, "rb").read())]
        capture("log", "\n".join(t for _l, t in sb.host.log_snapshot()))
    findings = scan_capture()
    figures = {"capture_files": len(capture_files()), "captured_bytes": captured_bytes(),
               "secrets_checked": len(ISSUED_SECRETS), "findings": findings[:5], "db_findings": db_findings,
               "review_lines_seen": len(reviews)}
    record_figures("secrets", figures)
    assert reviews, "review lines are still shared (they hold paths and Plex URLs, no secret)"
    assert findings == [] and db_findings == []
    assert figures["captured_bytes"] > 0 and len(ISSUED_SECRETS) >= 3
