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
    sim.spread_added_dates()  # a library Plex filled over months: a look since "now" finds nothing new
    _full_rebuild_schedule(sim, world, conn)


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

def _look_queries(sim, section_id):
    return [r["query"] for r in sim.requests if r["path"] == f"/library/sections/{section_id}/all"]


@pytest.fixture()
def fresh(sim, world):
    """A section of its own (the module's world is shared), three items, filled over months."""
    name = f"Looks{len(sim.requests)}{time.monotonic_ns()}"
    key = sim.add_section(name, [f"/media/{name}"])
    keys = [sim.add_item(key, f"old{i}", [f"/media/{name}/old{i}.mp4"]) for i in range(3)]
    sim.spread_added_dates()
    plex = client.connect(make_settings(sim))  # plexapi caches a server's sections: a new connection
    return {"key": key, "name": name, "items": keys, "plex": plex, "sections": client.movie_sections(plex, [name])}


def _index(world, fresh, conn, now):
    return PathIndex(conn, fresh["plex"], fresh["sections"], (), clock=lambda: now[0])


def _find(idx, path):
    return [c.rating_key for c in idx.lookup(normalise_path(path))]


def test_looks_start_from_plex_newest_dates_so_our_own_edits_are_listed_once(sim, world, fresh, conn):
    """The look's window is on Plex's clock: after a build, a look asks only for what Plex added or
    changed after the newest dates the build saw; items PlexSync edits are listed by the next look, and
    the look after that starts after them (a window on our own clock, with its skew margin, listed
    every item edited in the last minutes at every look)."""
    now = [time.time()]
    idx = _index(world, fresh, conn, now)
    idx.rebuild()
    newest = max(sim.item(rk)["updated_at"] for rk in fresh["items"])
    sim.reset_requests()
    now[0] += 60
    assert idx.look_again_on_miss() is False  # nothing new in Plex: nothing merged
    (query,) = _look_queries(sim, fresh["key"])
    assert query["updatedAt>>"] == str(newest - 1)  # Plex's newest stamp, not our clock minus minutes
    added = [sim.add_item(fresh["key"], f"new{i}", [f"/media/{fresh['name']}/new{i}.mp4"]) for i in range(3)]
    for rk in fresh["items"]:
        sim.edit_item(rk, title="edited by PlexSync")
    edited_at = max(sim.item(rk)["updated_at"] for rk in fresh["items"] + added)
    now[0] += 60
    assert idx.look_again_on_miss() is True  # the three new files are merged; the edited ones were held
    assert _find(idx, f"/media/{fresh['name']}/new1.mp4") == [added[1]]
    assert idx.merge_items(fresh["key"], {}) == 0
    sim.reset_requests()
    now[0] += 60
    assert idx.look_again_on_miss() is False
    (query,) = _look_queries(sim, fresh["key"])
    assert query["updatedAt>>"] == str(edited_at - 1)  # starts after the edits the last look listed


def test_an_item_plex_stamped_before_the_newest_seen_is_still_found(sim, world, fresh, conn):
    """A scan may commit an item after a later one was listed: addedAt keeps its margin."""
    now = [time.time()]
    idx = _index(world, fresh, conn, now)
    idx.rebuild()
    base = f"/media/{fresh['name']}"
    sim.add_item(fresh["key"], "first", [f"{base}/first.mp4"], added_at=int(now[0]) - 50)
    now[0] += 20
    assert idx.look_again_on_miss() is True
    late = sim.add_item(fresh["key"], "late", [f"{base}/late.mp4"], added_at=int(now[0]) - 100)
    now[0] += 20
    assert idx.look_again_on_miss() is True
    assert _find(idx, f"{base}/late.mp4") == [late]


def test_our_clock_ahead_of_plex_still_finds_new_items(sim, world, fresh, conn):
    """This machine's clock an hour ahead of Plex's: the addedAt window starts after Plex's newest."""
    now = [time.time() + 3600]
    idx = _index(world, fresh, conn, now)
    idx.rebuild()
    now[0] += 60
    added = sim.add_item(fresh["key"], "new", [f"/media/{fresh['name']}/new.mp4"])
    assert idx.look_again_on_miss() is True
    assert _find(idx, f"/media/{fresh['name']}/new.mp4") == [added]


def test_merge_skips_items_the_index_already_holds(world, fresh, conn):
    idx = _index(world, fresh, conn, [time.time()])
    idx.rebuild()
    first, second, _ = fresh["items"]
    base = f"/media/{fresh['name']}"
    same = {first: [f"{base}/old0.mp4"]}
    assert idx.merge_items(fresh["key"], same) == 0
    assert idx.merge_items(fresh["key"], {**same, second: [f"{base}/moved.mp4"]}) == 1
    assert _find(idx, f"{base}/moved.mp4") == [second]
    assert _find(idx, f"{base}/old1.mp4") == []


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
