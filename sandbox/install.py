"""Install the plugin into a plugins folder, from a source checkout or from a release zip.

Like Stash's package manager on an upgrade, the previous install is replaced but `data/` (the queue
database) is kept.
"""

from __future__ import annotations

import os
import shutil
import zipfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_ID = "PlexSync"
PLUGIN_PACKAGES = ("hooks", "worker", "plex", "queue", "validation", "stash")
SKIP_NAMES = ("__pycache__", "data")


def plugin_files(plugin_id: str = PLUGIN_ID) -> tuple[str, ...]:
    return (f"{plugin_id}.yml", f"{plugin_id}.py", "requirements.txt")


def _clear_except_data(dest: str) -> None:
    for name in os.listdir(dest):
        if name == "data":
            continue
        path = os.path.join(dest, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _ignore(_dir: str, names: list[str]) -> list[str]:
    return [n for n in names if n in SKIP_NAMES or n.endswith(".pyc")]


def install_plugin(src: str = REPO_ROOT, plugins_dir: str = ".", plugin_id: str = PLUGIN_ID) -> str:
    """Install from a checkout directory or a release zip into <plugins_dir>/<plugin_id>/; returns that
    folder. Raises FileNotFoundError if the source has no <plugin_id>.yml."""
    dest = os.path.join(os.path.abspath(plugins_dir), plugin_id)
    if os.path.isfile(src) and zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            if f"{plugin_id}.yml" not in zf.namelist():
                raise FileNotFoundError(f"{src} has no {plugin_id}.yml at its root")
            os.makedirs(dest, exist_ok=True)
            _clear_except_data(dest)
            zf.extractall(dest)
        return dest
    manifest = os.path.join(src, f"{plugin_id}.yml")
    if not os.path.isfile(manifest):
        raise FileNotFoundError(manifest)
    os.makedirs(dest, exist_ok=True)
    _clear_except_data(dest)
    for name in plugin_files(plugin_id):
        path = os.path.join(src, name)
        if os.path.isfile(path):
            shutil.copy2(path, os.path.join(dest, name))
    for package in PLUGIN_PACKAGES:
        path = os.path.join(src, package)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(dest, package), ignore=_ignore)
    return dest
