"""Find the task's third-party packages (plexapi, persist-queue, stashapp-tools) before a task imports them.

Stash never installs requirements.txt. Users get the packages one of three ways, tried in this order:
1. `<plugin dir>/py_deps`, filled by the README's fallback command
   (`python3 -m pip install --target "<plugin dir>/py_deps" -r requirements.txt`) with the interpreter
   Stash runs; it survives plugin updates because Stash's package manager deletes only the files its
   install manifest lists;
2. already importable (installed into Stash's Python, or the Docker image's);
3. PythonDepManager (`# requires: PythonDepManager` in PlexSync.yml), a sibling plugin importable because
   Stash puts the plugins' parent folder on PYTHONPATH; its `ensure_import` pip-installs into its own
   cache and puts that on sys.path.
Standard library only: this runs before the packages it looks for exist. Hooks never call it (the hook
path needs no third-party package).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

PY_DEPS_DIR = "py_deps"
# import name -> PythonDepManager spec ("import:pip-name==version"), pinned like requirements.txt.
REQUIRED: dict[str, str] = {
    "plexapi": "plexapi:PlexAPI==4.18.3",
    "persistqueue": "persistqueue:persist-queue==1.1.0",
    "stashapi": "stashapi:stashapp-tools==0.2.59",
    "PIL": "PIL:Pillow==11.0.0",  # poster modes crop / blur (plex/artwork.py)
}


class MissingDependencies(RuntimeError):
    """The task cannot run: its packages are not installed where this Python can find them."""


def default_plugin_dir() -> str:
    # worker/deps.py -> the plugin folder (the one holding PlexSync.py).
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fallback_command(plugin_dir: str) -> str:
    return (f'{sys.executable or "python3"} -m pip install --target "{os.path.join(plugin_dir, PY_DEPS_DIR)}" '
            f'-r "{os.path.join(plugin_dir, "requirements.txt")}"')


def missing_modules() -> list[str]:
    # find_spec only locates the package; the import cost is paid later by the task that needs it.
    missing = []
    for name in REQUIRED:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def _add_py_deps(plugin_dir: str) -> bool:
    folder = os.path.join(plugin_dir, PY_DEPS_DIR)
    if not os.path.isdir(folder):
        return False
    if folder not in sys.path:
        # Ahead of site-packages (the pinned versions win), behind the plugin folder (our `queue` package
        # must keep shadowing the standard library's).
        sys.path.insert(1 if sys.path else 0, folder)
        importlib.invalidate_caches()
    return True


def _try_python_dep_manager(names: list[str]) -> str | None:
    """Ask PythonDepManager for the missing packages; returns why it could not, or None."""
    if importlib.util.find_spec("PythonDepManager") is None:
        return "PythonDepManager is not installed"
    try:
        from PythonDepManager import ensure_import  # type: ignore[import-not-found]  # noqa: PLC0415
        ensure_import(*(REQUIRED[name] for name in names))
    except Exception as exc:  # noqa: BLE001 - any failure falls through to the clear message below
        return f"PythonDepManager could not install them ({type(exc).__name__}: {str(exc)[:200]})"
    importlib.invalidate_caches()
    return None


def ensure_runtime_dependencies(plugin_dir: str | None = None) -> None:
    """Make plexapi, persistqueue and stashapi importable, or raise MissingDependencies naming the fix."""
    plugin_dir = plugin_dir or default_plugin_dir()
    _add_py_deps(plugin_dir)
    missing = missing_modules()
    if not missing:
        return
    why = _try_python_dep_manager(missing)
    missing = missing_modules()
    if not missing:
        return
    raise MissingDependencies(
        f"PlexSync tasks need the Python packages {', '.join(missing)}, which {sys.executable or 'python'} "
        f"cannot import ({why or 'still missing after PythonDepManager ran'}). Install PythonDepManager from "
        f"Stash's Available plugins, or run once: {fallback_command(plugin_dir)} "
        f"(in Docker: docker exec -it stash <that command>; see the README, 'Python dependencies')")
