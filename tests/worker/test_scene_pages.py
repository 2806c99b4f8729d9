"""worker/scene_pages.py against the simulated Stash over real HTTP, with PlexSync's own GraphQL client."""
from __future__ import annotations

import threading
from typing import Iterator

import pytest

from sandbox.stash import StashSim
from stash.graphql import StashClient, StashError
from stash.protocol import ServerConnection
from worker.scene_pages import scene_pages


@pytest.fixture
def stash() -> Iterator[StashSim]:
    sim = StashSim()
    for i in range(7):
        sim.add_scene(f"Scene {i + 1}", [f"/data/scenes/{i + 1}.mp4"])
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def client(sim: StashSim) -> StashClient:
    return StashClient(ServerConnection("http", "127.0.0.1", sim.port, None, None, None))


def page_of(body: dict) -> int:
    return int(body["variables"]["f"]["page"])


@pytest.mark.parametrize("look_ahead", [False, True])
def test_the_same_pages_with_or_without_look_ahead(stash: StashSim, look_ahead: bool) -> None:
    pages = list(scene_pages(client(stash).execute, "id title", per_page=3, look_ahead=look_ahead))
    assert [(p.number, len(p.scenes), p.total) for p in pages] == [(1, 3, 7), (2, 3, 7), (3, 1, 7)]
    assert [s["title"] for p in pages for s in p.scenes] == [f"Scene {i + 1}" for i in range(7)]


def test_the_next_page_is_requested_while_the_caller_holds_this_one(stash: StashSim) -> None:
    asked = threading.Event()
    stash.intercept_graphql(lambda body: asked.set() if page_of(body) == 2 else None)
    pages = scene_pages(client(stash).execute, "id", per_page=3, look_ahead=True)
    first = next(pages)
    assert first.number == 1
    assert asked.wait(30)  # page 2 is on its way before the caller asks for it
    assert next(pages).number == 2


def test_a_failed_request_is_raised_where_the_caller_asks_for_that_page(stash: StashSim) -> None:
    seen: list[int] = []

    def fail_page_two(body: dict) -> int | None:
        seen.append(page_of(body))
        return 500 if page_of(body) == 2 else None

    stash.intercept_graphql(fail_page_two)
    pages = scene_pages(client(stash).execute, "id", per_page=3, look_ahead=True)
    assert next(pages).number == 1  # page 1 is handed over whole; page 2's failure waits for the ask
    with pytest.raises(StashError, match=r"^Stash answered HTTP 500 at http://127\.0\.0\.1:\d+/graphql$"):
        next(pages)
    assert seen == [1, 2]


def test_nothing_is_asked_beyond_the_last_page(stash: StashSim) -> None:
    seen: list[int] = []
    stash.intercept_graphql(lambda body: seen.append(page_of(body)))
    assert len(list(scene_pages(client(stash).execute, "id", per_page=7, look_ahead=True))) == 1
    assert seen == [1]
