"""PlexSync's queue database, and a complete stand-in for the standard library's `queue` module.

Stash runs `python PlexSync.py`, which puts the plugin folder first on sys.path, so this package is
what `import queue` finds for every library in the process (urllib3, requests, concurrent.futures...).
It therefore loads the real standard-library file and re-exports all of it; PlexSync's own modules
live in submodules (queue.database, queue.pending, ...), which the standard module never had.
"""
import importlib.util as _importlib_util
import os as _os
import sys as _sys
import sysconfig as _sysconfig


def _load_stdlib_queue():
    existing = _sys.modules.get("_plexsync_stdlib_queue")
    if existing is not None:
        return existing
    path = _os.path.join(_sysconfig.get_path("stdlib"), "queue.py")
    spec = _importlib_util.spec_from_file_location("_plexsync_stdlib_queue", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot find the standard library queue module at {path}")
    module = _importlib_util.module_from_spec(spec)
    _sys.modules["_plexsync_stdlib_queue"] = module
    spec.loader.exec_module(module)
    return module


_stdlib_queue = _load_stdlib_queue()
__all__ = list(_stdlib_queue.__all__)
for _name in dir(_stdlib_queue):
    if not (_name.startswith("__") and _name.endswith("__")):
        globals()[_name] = getattr(_stdlib_queue, _name)
del _name
