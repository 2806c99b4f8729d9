"""The simulated Stash's record tables, and the caches that stand in for its database indexes and its
GraphQL query cache.

Real Stash answers `findScenes(filter: {page, per_page, sort})` from SQLite with an index and
LIMIT/OFFSET, and keeps up to 1,000 parsed and validated query documents (gqlgen's
`SetQueryCache(lru.New(1000))` in internal/api/server.go). The simulator had neither: it filtered and
sorted every scene again for each page (quadratic over a paged listing of 50,000 scenes) and parsed and
validated the same query text on every request. These classes give it the same shortcuts without
changing any answer: a cached listing is keyed on a version that every table write moves.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class Versions:
    """One counter for all tables: any write to any record moves it (a filter may read other tables)."""

    def __init__(self) -> None:
        self.value = 0

    def bump(self) -> None:
        self.value += 1


class Table(dict):
    """id -> stored record. Reads are plain dict reads; every kind of write moves the shared version, so
    no write path can forget to invalidate a cached listing."""

    def __init__(self, versions: Versions) -> None:
        super().__init__()
        self.versions = versions

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.versions.bump()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self.versions.bump()

    def pop(self, *args: Any) -> Any:
        self.versions.bump()
        return super().pop(*args)

    def popitem(self) -> Any:
        self.versions.bump()
        return super().popitem()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.versions.bump()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.versions.bump()
        return super().setdefault(key, default)

    def clear(self) -> None:
        super().clear()
        self.versions.bump()


class LruCache:
    """A small thread-safe least-recently-used map (request threads share it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: parsing a document must not hold up other requests
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
