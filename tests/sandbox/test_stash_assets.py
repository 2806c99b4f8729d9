"""The sandbox Stash serves plugin assets as Stash does: GET /plugin/<id>/assets/... from the manifest's
ui.assets map, through Go's FileServer rules, behind Stash's login (internal/api/routes_plugin.go,
pkg/utils/urlmap.go, internal/api/authentication.go)."""
from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

from sandbox import Sandbox
from sandbox.host_manifest import load_manifest
from tests.conftest import REPO_ROOT
from worker.coverage_page import ASSET_DIR, ASSET_URL_PATH, PAGE_FOLDER

PAGE = "<!DOCTYPE html><title>page</title>"
DATA = '{"rows": []}'


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102 - keep 3xx replies visible to the test
        return None


def get(sb, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(sb.stash.url + path, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    with Sandbox(str(tmp_path_factory.mktemp("assets")), scenes=2, plex_items=2, auth=True) as box:
        folder = os.path.join(box.info["data_dir"], PAGE_FOLDER)
        os.makedirs(os.path.join(folder, "sub"), exist_ok=True)
        for name, text in (("index.html", PAGE), ("coverage.json", DATA), ("sub/index.html", PAGE)):
            with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        yield box


def test_manifest_maps_the_coverage_folder():
    raw = yaml.safe_load(open(os.path.join(REPO_ROOT, "PlexSync.yml"), encoding="utf-8"))
    assert raw["ui"] == {"assets": {ASSET_URL_PATH: ASSET_DIR}}
    assert ASSET_DIR == f"data/{PAGE_FOLDER}"  # data/ survives updates and is never in the release zip
    config = load_manifest(os.path.join(REPO_ROOT, "PlexSync.yml"))  # the strict loader accepts ui
    assert config.ui["assets"] == {"/coverage": "data/coverage"}


def test_login_required_like_stash(sb):
    base = "/plugin/PlexSync/assets/coverage/"
    status, headers, _ = get(sb, base + "coverage.json")
    assert status == 401 and headers.get("WWW-Authenticate") == "FormBased"
    status, headers, _ = get(sb, base)
    assert status == 302
    assert headers["Location"] == "/login?" + urllib.parse.urlencode({"returnURL": base})
    status, _, _ = get(sb, base + "coverage.json", {"ApiKey": "wrong"})
    assert status == 401


def test_served_with_api_key_or_session(sb):
    key = {"ApiKey": sb.info["stash_api_key"]}
    status, headers, body = get(sb, "/plugin/PlexSync/assets/coverage/coverage.json", key)
    assert (status, headers["Content-Type"], body.decode()) == (200, "application/json", DATA)
    form = urllib.parse.urlencode({"username": sb.info["stash_username"],
                                   "password": sb.info["stash_password"]}).encode()
    with urllib.request.urlopen(sb.stash.url + "/login", data=form, timeout=10) as reply:
        cookie = reply.headers["Set-Cookie"].split(";", 1)[0]
    for path in ("/plugin/PlexSync/assets/coverage/", "/plugin/PlexSync/assets/coverage/index.html",
                 "/plugin/PlexSync/assets/coverage"):
        status, headers, body = get(sb, path, {"Cookie": cookie})
        assert (status, headers["Content-Type"], body.decode()) == (200, "text/html; charset=utf-8", PAGE), path


def test_file_server_rules(sb):
    key = {"ApiKey": sb.info["stash_api_key"]}
    assert get(sb, "/plugin/PlexSync/assets/coverage/sub", key)[:2][0] == 301
    assert get(sb, "/plugin/PlexSync/assets/coverage/sub", key)[1]["Location"] == "sub/"
    assert get(sb, "/plugin/PlexSync/assets/coverage/coverage.json/", key)[1]["Location"] == "../coverage.json"
    # ".." is cleaned against the mapped folder: the manifest and the queue database stay out of reach.
    assert get(sb, "/plugin/PlexSync/assets/coverage/../PlexSync.yml", key)[0] == 404
    assert get(sb, "/plugin/PlexSync/assets/coverage/../plexsync.db", key)[0] == 404
    assert get(sb, "/plugin/PlexSync/assets/elsewhere.txt", key)[0] == 404      # no "/" key: unmapped
    assert get(sb, "/plugin/NoSuchPlugin/assets/coverage/", key)[0] == 404


def test_disabled_plugin_is_refused(sb):
    key = {"ApiKey": sb.info["stash_api_key"]}
    sb.host.set_enabled("PlexSync", False)
    try:
        status, _, body = get(sb, "/plugin/PlexSync/assets/coverage/coverage.json", key)
        assert (status, body) == (400, b"plugin disabled\n")
    finally:
        sb.host.set_enabled("PlexSync", True)
