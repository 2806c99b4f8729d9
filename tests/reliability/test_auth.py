"""Stash with authentication on: hooks and drains work with the session cookie Stash hands the plugin,
and every plugin request carries it, so Stash's hook-loop guard (the visited hooks in the cookie) holds."""
from __future__ import annotations

from sandbox import Sandbox
from tests.reliability import helpers as h
from tests.reliability.report import record_figures

GUARD_PAIR = ("PlexSync", "Scene.Update.Post")


def test_hooks_and_drains_with_auth_on(tmp_path):
    with Sandbox(str(tmp_path / "sb"), scenes=10, plex_items=20, auth=True) as sb:
        sid = h.comparable_scene_ids(sb)[0]
        before = len(sb.stash.auth_log)
        result = sb.stash.gql('mutation { sceneUpdate(input: {id: "%d", title: "Saved with auth on"}) { id } }' % sid)
        assert result["data"]["sceneUpdate"]["id"] == str(sid)
        assert sb.host.wait_idle(120)
        assert sb.plex.item(sb.world.scene_rating_keys[sid][0])["title"] == "Saved with auth on"
        assert h.mismatches(sb, [sid]) == []
        entries = sb.stash.auth_log[before:]
        from_hook = [e for e in entries if e["via"] == "session" and tuple(map(tuple, e["visited"])) == (GUARD_PAIR,)]
        from_task = [e for e in entries if e["via"] == "session" and not e["visited"]]
        unauthenticated = [e for e in entries if e["via"] == "none"]
        problems = [t for lvl, t in sb.host.log_snapshot() if lvl in ("warning", "error")]
        figures = {"requests_total": len(entries), "hook_requests_with_cookie": len(from_hook),
                   "task_requests_with_cookie": len(from_task), "requests_by_api_key": sum(
                       e["via"] == "apikey" for e in entries), "requests_without_credentials": len(unauthenticated),
                   "warnings_or_errors": len(problems)}
        # The hook read settings and asked for a drain with the cookie carrying its visited hook;
        # the drain (a task: empty visited list) read the scene with its own cookie.
        assert len(from_hook) >= 2 and len(from_task) >= 1, figures
        assert unauthenticated == [] and problems == [], problems

        # Without the cookie (a plugin that dropped it), Stash refuses: the update is still recorded and
        # the user gets a clear line, no traceback.
        rc, out, err = h.finish(h.start_plugin(sb, h.hook_stdin(sb, sid)))
        assert rc == 0 and b"Traceback" not in err
        assert b"401" in err and sid in h.pending_ids(sb)
        figures["without_cookie"] = out.decode().strip()[:200]
        record_figures("auth", figures)
