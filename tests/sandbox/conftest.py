"""A running simulated Plex for the sandbox's own tests (plexapi talks to it over real HTTP)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.plex import PlexSim

TOKEN = "test-token-123"


@pytest.fixture
def sim() -> Iterator[PlexSim]:
    plex_sim = PlexSim(token=TOKEN, friendly_name="Test PMS")
    plex_sim.start()
    try:
        yield plex_sim
    finally:
        plex_sim.stop()
