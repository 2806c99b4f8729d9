"""Stash images over urllib3 directly (worker/stash_images.py): the same bytes and the same credentials
as stashapi's session, against the simulated Stash with its login on; HTTPS goes through the session."""
from __future__ import annotations

import pytest

from stash.protocol import Invocation, parse_server_connection
from worker.stash_images import ImageFetchError, fast_path_allowed
from worker.stash_reader import connect_stash, fetch_cover, fetch_image, read_scene


def _stash(sb, cookie: str | None):
    conn = {"Scheme": "https" if sb.tls else "http", "Host": "127.0.0.1", "Port": sb.stash.port}
    if cookie is not None:
        conn["SessionCookie"] = {"Name": "session", "Value": cookie}
    return connect_stash(Invocation(parse_server_connection(conn), {}), 5, 30)


def _image_gets(sb, scene_id: int) -> list[dict]:
    return [e for e in sb.stash.http_log if e["method"] == "GET" and e["path"] == f"/scene/{scene_id}/screenshot"]


def test_covers_carry_the_session_cookie_and_match_what_stash_serves(tmp_path):
    from sandbox import STASH_PASSWORD, STASH_USERNAME, Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=4, plex_items=6, auth=True, install_plugin=False) as sb:
        stash = _stash(sb, sb.stash.login(STASH_USERNAME, STASH_PASSWORD))
        scene = read_scene(stash, 1)
        url = scene["paths"]["screenshot"]
        assert fast_path_allowed(stash.s, url)
        assert fetch_cover(stash, scene, (5, 30)) == sb.stash.screenshot_bytes(1)
        assert [e["status"] for e in _image_gets(sb, 1)] == [200]     # one request, let in by the cookie
        assert fetch_image(stash, url.replace("/scene/1/", "/scene/999/"), (5, 30)) is None  # Stash: 404

        # A session Stash no longer knows: an error (the job retries), never an empty or wrong cover.
        stash.s.cookies.set("session", "expired")
        with pytest.raises(ImageFetchError, match="HTTP 401"):
            fetch_image(stash, url, (5, 30))


def test_https_stash_images_go_through_the_session(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=4, plex_items=6, tls=True, install_plugin=False) as sb:
        stash = _stash(sb, None)  # verify_stash_tls off: the self-signed certificate is accepted
        scene = read_scene(stash, 2)
        assert not fast_path_allowed(stash.s, scene["paths"]["screenshot"])
        assert fetch_cover(stash, scene, (5, 30)) == sb.stash.screenshot_bytes(2)
        assert [e["status"] for e in _image_gets(sb, 2)] == [200]
