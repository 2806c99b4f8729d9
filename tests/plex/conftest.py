"""Shared fixtures for the plex/ tests: a started PlexSim per test module, driven by the real plexapi."""
from __future__ import annotations

import sqlite3
from typing import Iterator

import pytest

from sandbox.plex import PlexSim
from validation.config import Settings

PATH_MAP = (("/data/", "/media/"),)


@pytest.fixture(scope="module")
def sim() -> Iterator[PlexSim]:
    server = PlexSim()
    server.start()
    try:
        yield server
    finally:
        server.set_hang(False)
        server.stop()


def make_settings(sim: PlexSim, **overrides) -> Settings:
    values = dict(plex_url=sim.url, plex_token=sim.token, path_map=PATH_MAP, connect_timeout=2.0,
                  read_timeout=5.0)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture()
def conn() -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(":memory:")
    try:
        yield c
    finally:
        c.close()
