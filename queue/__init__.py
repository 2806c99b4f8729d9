"""PlexSync's queue database, and a complete stand-in for the standard library's `queue` module.

Stash runs `python PlexSync.py`, which puts the plugin folder first on sys.path, so this package is
what `import queue` finds for every library in the process (urllib3, requests, concurrent.futures...).
It therefore serves all of the real standard-library module; PlexSync's own modules live in submodules
(queue.database, queue.pending, ...), which the standard module never had.

The standard module is loaded on first use of one of its names (PEP 562 module __getattr__), not on
import: the hook process imports queue.database on every Save and never needs Queue, and loading the
file eagerly (importlib.util, sysconfig) cost more than the rest of the hook's own imports.
"""
import os as _os
import sys as _sys


def _load_stdlib_queue():
    existing = _sys.modules.get("_plexsync_stdlib_queue")
    if existing is not None:
        return existing
    import importlib.util as _importlib_util  # noqa: PLC0415 - only when a library needs the real module
    import sysconfig as _sysconfig  # noqa: PLC0415

    path = _os.path.join(_sysconfig.get_path("stdlib"), "queue.py")
    spec = _importlib_util.spec_from_file_location("_plexsync_stdlib_queue", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot find the standard library queue module at {path}")
    module = _importlib_util.module_from_spec(spec)
    _sys.modules["_plexsync_stdlib_queue"] = module
    spec.loader.exec_module(module)
    return module


def _export_all():
    real = _load_stdlib_queue()
    namespace = globals()
    for name in dir(real):
        if not (name.startswith("__") and name.endswith("__")) and name not in namespace:
            namespace[name] = getattr(real, name)
    namespace["__all__"] = list(real.__all__)
    return real


def _is_own_submodule(name):
    # `from queue import lease` asks hasattr(queue, "lease") before importing the submodule: that must
    # not load the standard module (the hook never needs it).
    here = _os.path.dirname(__file__)
    return _os.path.exists(_os.path.join(here, name + ".py")) or _os.path.isdir(_os.path.join(here, name))


def __getattr__(name):
    # Called only for names this package does not hold yet: the standard module's (Queue, Empty, ...).
    if (name.startswith("__") and name != "__all__") or _is_own_submodule(name):
        raise AttributeError(f"module 'queue' has no attribute {name!r}")
    real = _export_all()
    try:
        return globals()[name] if name == "__all__" else getattr(real, name)
    except (KeyError, AttributeError):
        raise AttributeError(f"module 'queue' has no attribute {name!r}") from None


def __dir__():
    _export_all()
    return sorted(globals())
