"""Plugin assets as Stash serves them: GET /plugin/<plugin id>/assets/... from the manifest's `ui.assets`.

Facts from Stash's source (internal/api/routes_plugin.go, pkg/plugin/config.go, pkg/utils/urlmap.go,
internal/api/authentication.go), reproduced here without its code:
- unknown plugin id: 404; plugin disabled: 400 "plugin disabled".
- the "/plugin/<id>/assets" prefix is removed, then a trailing "/index.html"; the rest is mapped by
  `ui.assets` (URL prefix -> folder relative to the plugin folder): the first non-"/" key that prefixes
  the path wins and is cut off; otherwise the "/" key's folder gets the whole path; otherwise 404. A
  folder outside the plugin folder is a 404.
- Go's http.FileServer serves the file: a folder without a trailing slash redirects to "<name>/", a
  folder serves its index.html (or a listing), a file path ending in "/" redirects to the bare name,
  Content-Type from the extension, ".." cannot climb out (the path is cleaned against "/").
- The route sits behind authenticateHandler: without a login, a path whose extension is neither empty
  nor ".html" gets 401; a page gets a 302 to /login?returnURL=<path>.
"""
from __future__ import annotations

import mimetypes
import os
import posixpath
from typing import Any
from urllib.parse import quote, urlencode

# Go's mime table for the types a plugin page uses (net/http sniffs the rest; we fall back to Python's).
_GO_TYPES = {".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
             ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
             ".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
             ".webp": "image/webp", ".gif": "image/gif", ".wasm": "application/wasm"}

Reply = tuple[int, bytes, dict[str, str]]


def needs_login_reply(path: str, query: str) -> Reply:
    """What Stash answers an unauthenticated request for a plugin asset when credentials are set."""
    ext = posixpath.splitext(path)[1]
    if ext and ext != ".html":
        return 401, b"", {"WWW-Authenticate": "FormBased", "Content-Type": "text/plain; charset=utf-8"}
    return_url = path + (f"?{query}" if query else "")
    location = "/login?" + urlencode({"returnURL": return_url})
    return 302, b"", {"Location": location, "Content-Type": "text/html; charset=utf-8"}


def map_url(assets: dict[str, str], url: str) -> tuple[str, str]:
    """pkg/utils/urlmap.go GetFilesystemLocation: (remaining URL, folder) or (url, "") when unmapped."""
    for key, folder in (assets or {}).items():
        if key != "/" and url.startswith(key):
            return url[len(key):], folder
    root = (assets or {}).get("/") or ""
    return url, root


def _not_found() -> Reply:
    return 404, b"404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"}


def serve_asset(plugin: Any, enabled: bool, plugin_id: str, path: str) -> Reply:
    """The reply for GET `path` (decoded, starting /plugin/<id>/assets) of an authenticated request."""
    if plugin is None:
        return 404, b"Not Found\n", {"Content-Type": "text/plain; charset=utf-8"}
    if not enabled:
        return 400, b"plugin disabled\n", {"Content-Type": "text/plain; charset=utf-8"}
    url = path.replace(f"/plugin/{plugin_id}/assets", "", 1)
    if url.endswith("/index.html"):
        url = url[: -len("/index.html")]
    url, folder = map_url(plugin.ui.get("assets") or {}, url)
    if not folder:
        return _not_found()
    plugin_dir = plugin.plugin_dir
    root = os.path.join(plugin_dir, *folder.split("/"))
    root = os.path.normpath(root)
    if not root.startswith(plugin_dir):
        return _not_found()
    return _file_server(root, url)


def _file_server(root: str, url: str) -> Reply:
    """Go's http.FileServer(http.Dir(root)) for GET `url`."""
    if not url.startswith("/"):
        url = "/" + url
    name = posixpath.normpath(url) if url != "/" else "/"
    if name.startswith("//"):
        name = "/" + name.lstrip("/")
    if url.endswith("/index.html"):
        return 301, b"", {"Location": "./"}
    full = os.path.join(root, *[p for p in name.split("/") if p])
    if not os.path.exists(full):
        return _not_found()
    if os.path.isdir(full):
        if not url.endswith("/"):
            return 301, b"", {"Location": quote(posixpath.basename(name)) + "/"}
        index = os.path.join(full, "index.html")
        if os.path.isfile(index):
            full = index
        else:
            names = sorted(os.listdir(full))
            body = "<pre>\n" + "".join(
                f'<a href="{quote(n)}{"/" if os.path.isdir(os.path.join(full, n)) else ""}">{n}</a>\n'
                for n in names) + "</pre>\n"
            return 200, body.encode(), {"Content-Type": "text/html; charset=utf-8"}
    elif url.endswith("/"):
        return 301, b"", {"Location": "../" + quote(posixpath.basename(name))}
    try:
        with open(full, "rb") as fh:
            data = fh.read()
    except OSError:
        return _not_found()
    ext = os.path.splitext(full)[1].lower()
    ctype = _GO_TYPES.get(ext) or mimetypes.guess_type(full)[0] or "application/octet-stream"
    return 200, data, {"Content-Type": ctype}
