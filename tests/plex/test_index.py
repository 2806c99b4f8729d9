"""PathIndex against a running PlexSim through the real plexapi client."""
import math
import time
import sqlite3

import pytest
from plexapi.exceptions import BadRequest

from plex import client
from plex.index import PAGE_SIZE, PathIndex
from plex.paths import normalise_path
from tests.plex.conftest import make_settings

BIG = 2500


@pytest.fixture(scope="module")
def world(sim):
    big = sim.add_section("Big", ["/media/big"])
    small = sim.add_section("Small", ["/media/small"])
    sim.add_section("Shows", ["/media/tv"])  # a movie section too in the sim; excluded by title below
    for i in range(BIG):
        sim.add_item(big, f"b{i}", [f"/media/big/{i:05d}.mp4"])
    two_parts = sim.add_item(small, "two", ["/media/small/part1.mkv", "/media/small/part2.mkv"])
    caf = sim.add_item(small, "cafe", ["/media/small/Cafe\u0301.mp4"])
    plex = client.connect(make_settings(sim))
    sections = client.movie_sections(plex, ["Big", "small"])
    return {"plex": plex, "sections": sections, "big": big, "small": small, "two": two_parts, "cafe": caf}


def test_build_pages_and_request_counts(sim, world, conn):
    sim.reset_requests()
    idx = PathIndex(conn, world["plex"], world["sections"], ())
    assert idx.ensure_fresh() is True
    pages = sim.request_count("GET", f"/library/sections/{world['big']}/all")
    assert pages == math.ceil(BIG / PAGE_SIZE)
    assert sim.request_count("GET", f"/library/sections/{world['small']}/all") == 1
    assert sim.request_count() == pages + 1  # nothing else: no per-item requests
    starts = [r["container_start"] for r in sim.requests if r["path"] == f"/library/sections/{world['big']}/all"]
    assert starts == ["0", "1000", "2000"]
    meta = dict(conn.execute("SELECT section_id, item_count FROM path_index_meta").fetchall())
    assert meta == {world["big"]: BIG, world["small"]: 2}
    assert conn.execute("SELECT COUNT(*) FROM path_index_staging").fetchone()[0] == 0

    # Persisted: a second index on the same database needs no Plex request.
    sim.reset_requests()
    again = PathIndex(conn, world["plex"], world["sections"], ())
    assert again.ensure_fresh() is False
    assert sim.request_count() == 0


def test_lookups(sim, world, conn):
    idx = PathIndex(conn, world["plex"], world["sections"], ())
    idx.ensure_fresh()
    sim.reset_requests()
    [c] = idx.lookup("/media/big/02499.mp4")
    assert c.section_id == world["big"] and c.plex_path == "/media/big/02499.mp4"
    assert c.url.endswith(f"%2Flibrary%2Fmetadata%2F{c.rating_key}")
    assert idx.lookup("/media/big//02499.mp4/") == [c]
    [p1] = idx.lookup("/media/small/part2.mkv")
    assert p1.rating_key == world["two"]
    assert {x.plex_path for x in idx.candidates_for_rating_key(world["two"])} == {
        "/media/small/part1.mkv", "/media/small/part2.mkv"}
    assert idx.lookup(normalise_path("/media/small/Caf\u00e9.mp4"))[0].rating_key == world["cafe"]
    assert [x.rating_key for x in idx.lookup_basename("/elsewhere/PART1.MKV")] == [world["two"]]
    assert idx.lookup("/media/tv/none.mp4") == []
    assert sim.request_count() == 0


def test_failed_build_keeps_previous_index(sim, world):
    c = sqlite3.connect(":memory:", isolation_level=None)  # autocommit connection works too
    try:
        idx = PathIndex(c, world["plex"], world["sections"], ())
        idx.ensure_fresh()
        before = c.execute("SELECT COUNT(*) FROM path_index").fetchone()[0]
        sim.fail_next(1, 500)
        with pytest.raises(BadRequest):
            idx.build_section(world["big"])
        assert c.execute("SELECT COUNT(*) FROM path_index").fetchone()[0] == before
        assert not c.in_transaction
    finally:
        c.close()


def test_full_rebuild_on_miss_at_most_once_per_interval_filtered_looks_between(sim, world, conn):
    sim.backdate(86_400)  # a library Plex scanned yesterday: a look since "now" finds nothing new
    try:
        _full_rebuild_schedule(sim, world, conn)
    finally:
        sim.backdate(-86_400)


def _full_rebuild_schedule(sim, world, conn):
    now = [time.time() - 1000.0]
    idx = PathIndex(conn, world["plex"], world["sections"], (), rebuild_interval=300, clock=lambda: now[0])
    start = now[0]
    idx.ensure_fresh()
    sim.reset_requests()
    now[0] = start + 5
    assert idx.look_again_on_miss() is False  # a look moments ago is reused
    assert sim.request_count() == 0
    now[0] = start + 100
    idx.look_again_on_miss()  # between full rebuilds: one filtered listing per section
    looks = sim.requests
    assert len(looks) == 2 and all("addedAt>>" in e["query"] for e in looks)
    sim.reset_requests()
    now[0] = start + 300
    assert idx.look_again_on_miss() is True  # the full schedule is due
    assert sim.request_count() >= 2 and not any("addedAt>>" in e["query"] for e in sim.requests)  # every page
    sim.reset_requests()
    now[0] = start + 301
    assert idx.look_again_on_miss() is False
    assert sim.request_count() == 0

def test_unknown_sections_reported(sim, world):
    got = client.movie_sections(world["plex"], ["big", "Nope"])
    assert [s.key for s in got] == [world["big"]]
    assert got.unknown == ("Nope",)
    every = client.movie_sections(world["plex"], [])
    assert {world["big"], world["small"]} <= {s.key for s in every}


def test_build_inside_callers_transaction_does_not_commit_it(sim, world, conn):
    conn.execute("CREATE TABLE other (x INTEGER)")
    conn.commit()
    conn.execute("INSERT INTO other VALUES (1)")  # the caller's own open transaction
    assert conn.in_transaction
    idx = PathIndex(conn, world["plex"], world["sections"], ())
    idx.build_section(world["small"])
    assert conn.in_transaction
    conn.rollback()
    assert conn.execute("SELECT COUNT(*) FROM other").fetchone()[0] == 0
