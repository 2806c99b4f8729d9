"""Paging through Stash's findScenes, optionally with the next page already on its way.

Why: Sync all spends its time in two processes, Stash building each page of scenes and PlexSync hashing
it. Done strictly in turn, each waits for the other. With `look_ahead`, page N+1 is requested on a
background thread as soon as page N has arrived, so Stash works on it while the caller sorts page N.
At most one page is requested ahead, so at most two pages are held at once. A failed request is raised
in the caller's thread when the caller asks for that page, i.e. exactly where the serial loop would have
raised it, with the same exception: nothing the caller has not seen yet is acted on.

The request, its variables and the end-of-listing test are the serial loop's own, so the pages are the
same ones; deduplication by id stays with the caller (worker/reconcile.py iter_scene_pages).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

SCENE_LIST_QUERY = """
query PlexSyncSceneList($f: FindFilterType, $sf: SceneFilterType) {
  findScenes(filter: $f, scene_filter: $sf) { count scenes { %s } }
}
"""

T = TypeVar("T")


@dataclass
class ScenePage:
    number: int                   # 1-based, as Stash counts pages
    scenes: list[dict[str, Any]]
    total: int                    # Stash's count of matching scenes when this page was built


class _Ahead(Generic[T]):
    """One call running on a daemon thread (a stalled Stash never keeps the task process alive: the
    client's own timeout ends the call, and an abandoned one dies with the process)."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(call,), name="plexsync-next-page", daemon=True).start()

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._value = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def scene_pages(execute: Callable[[str, dict[str, Any]], dict[str, Any]], fields: str,
                scene_filter: dict[str, Any] | None = None, per_page: int = 500, direction: str = "ASC",
                look_ahead: bool = False) -> Iterator[ScenePage]:
    """Every page of scenes matching the filter, sorted by created_at (a scene keeps its place when it is
    edited during the listing; new scenes go to the end). `execute` is StashClient.execute: with
    look_ahead it is also called from a second thread, one call at a time."""
    query = SCENE_LIST_QUERY % fields

    def fetch(number: int) -> ScenePage:
        data = execute(query, {"f": {"page": number, "per_page": per_page, "sort": "created_at",
                                     "direction": direction},
                               "sf": scene_filter or {}})
        result = data.get("findScenes") or {}
        return ScenePage(number, result.get("scenes") or [], int(result.get("count") or 0))

    number = 1
    ahead: _Ahead[ScenePage] | None = None
    while True:
        page = ahead.result() if ahead is not None else fetch(number)
        ahead = None
        last = len(page.scenes) < per_page or number * per_page >= page.total
        if not last and look_ahead:
            ahead = _Ahead(lambda following=number + 1: fetch(following))
        yield page
        if last:
            return
        number += 1
