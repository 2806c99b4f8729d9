"""The simulated Plex Media Server, driven by the real plexapi client over real HTTP."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from urllib.parse import quote

import pytest
import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from sandbox.plex import PlexSim, xml_attr

from tests.sandbox.conftest import TOKEN  # the `sim` fixture is there too

TIMEOUT = 10  # every plexapi request in these tests is bounded by this


@pytest.fixture
def movies(sim: PlexSim) -> int:
    """Section 'Scenes' with two detailed items; returns the section key."""
    key = sim.add_section("Scenes", ["/media/scenes"])
    sim.add_section("Archive", ["/media/archive"])
    sim.add_item(key, "Alpha", ["/media/scenes/Studio A/alpha.mp4"], studio="Studio A", summary="First",
                 year=2020, originallyAvailableAt="2020-05-01", genres=["Drama", "Comedy", "Action", "a,b"],
                 actors=["A1", "A2", "A3", "A4", "A5"], collections=["Studio A"], labels=["L1"],
                 directors=["D1", "D2"], locked={"collection"})
    sim.add_item(key, "Beta", ["/media/scenes/Studio B/beta.mkv"], genres=["Drama"])
    return key


def connect(sim: PlexSim, timeout: float = TIMEOUT, token: str = TOKEN) -> PlexServer:
    return PlexServer(sim.url, token, timeout=timeout)


def rk_by_title(sim: PlexSim, title: str) -> int:
    return next(i["rating_key"] for i in sim.items() if i["title"] == title)


# ---- connecting, sections, listings ------------------------------------------------------------

def test_connect_reads_root_and_sections(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    assert plex.friendlyName == "Test PMS"
    assert plex.machineIdentifier == sim.machine_identifier
    sections = plex.library.sections()
    assert [s.title for s in sections] == ["Scenes", "Archive"]
    scenes = plex.library.section("Scenes")
    assert scenes.key == movies and scenes.type == "movie"
    assert scenes.locations == ["/media/scenes"]
    assert [(r["method"], r["path"]) for r in sim.requests[:3]] == [
        ("GET", "/"), ("GET", "/library"), ("GET", "/library/sections")]


def test_trailing_slash_sections_fallback(sim: PlexSim, movies: int) -> None:
    resp = requests.get(f"{sim.url}/library/sections/", headers={"X-Plex-Token": TOKEN}, timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert "Scenes" in resp.text


def test_all_pages_with_headers_and_total_size(sim: PlexSim) -> None:
    key = sim.add_section("Big", ["/media/big"])
    for n in range(250):
        sim.add_item(key, f"Movie {n:03d}", [f"/media/big/m{n:03d}.mp4"])
    plex = connect(sim)
    section = plex.library.section("Big")
    sim.reset_requests()
    items = section.all()
    assert len(items) == 250
    assert len({i.ratingKey for i in items}) == 250
    pages = [r for r in sim.requests if r["path"] == f"/library/sections/{key}/all"]
    assert [(p["container_start"], p["container_size"]) for p in pages] == [("0", "100"), ("100", "100"),
                                                                            ("200", "100")]
    assert all(p["query"].get("type") == "1" for p in pages)


def test_paging_by_query_parameters_and_type_filter(sim: PlexSim, movies: int) -> None:
    base = f"{sim.url}/library/sections/{movies}/all"
    headers = {"X-Plex-Token": TOKEN}
    resp = requests.get(base, params={"X-Plex-Container-Start": 1, "X-Plex-Container-Size": 1},
                        headers=headers, timeout=TIMEOUT)
    assert 'size="1" totalSize="2" offset="1"' in resp.text
    assert 'title="Beta"' in resp.text and 'title="Alpha"' not in resp.text
    shows = requests.get(base, params={"type": "2"}, headers=headers, timeout=TIMEOUT)
    assert 'size="0" totalSize="0"' in shows.text


def test_find_item_by_part_file(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    path = "/media/scenes/Studio B/beta.mkv"
    found = plex.fetchItems(f"/library/sections/{movies}/all?type=1&file={quote(path, safe='')}")
    assert [m.title for m in found] == ["Beta"]
    assert found[0].locations == [path]
    assert plex.fetchItems(f"/library/sections/{movies}/all?type=1&file={quote('/nope.mp4', safe='')}") == []
    # The plexapi-side (full scan) operator works too.
    section = plex.library.sectionByID(movies)
    assert [m.title for m in section.search(Media__Part__file__exact=path)] == ["Beta"]


def test_listing_truncates_tags_and_detail_is_full(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    raw = plex.query(f"/library/sections/{movies}/all?type=1")
    alpha = next(v for v in raw if v.get("title") == "Alpha")
    assert len(alpha.findall("Role")) == 3 and len(alpha.findall("Genre")) == 2
    assert len(alpha.findall("Director")) == 1
    assert alpha.findall("Label") == [] and alpha.findall("Collection") == [] and alpha.findall("Field") == []
    assert alpha.find("Media/Part").get("file") == "/media/scenes/Studio A/alpha.mp4"

    listed = next(m for m in plex.library.sectionByID(movies).all() if m.title == "Alpha")
    assert len(listed.roles) == 3  # non-empty but truncated: plexapi does not auto-reload
    full = plex.fetchItem(listed.ratingKey)
    assert [r.tag for r in full.roles] == ["A1", "A2", "A3", "A4", "A5"]
    assert [g.tag for g in full.genres] == ["Drama", "Comedy", "Action", "a,b"]
    assert [c.tag for c in full.collections] == ["Studio A"]
    assert full.isLocked("collection") and not full.isLocked("title")
    assert full.genres[0].id is not None and full.genres[0].filter == f"genre={full.genres[0].id}"


def test_multi_key_metadata_fetch(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    alpha, beta = rk_by_title(sim, "Alpha"), rk_by_title(sim, "Beta")
    items = plex.fetchItems([alpha, beta])
    assert [m.title for m in items] == ["Alpha", "Beta"]
    assert any(r["path"] == f"/library/metadata/{alpha},{beta}" for r in sim.requests)


# ---- errors ----------------------------------------------------------------------------------------

def test_wrong_or_missing_token_is_401(sim: PlexSim, movies: int) -> None:
    with pytest.raises(Unauthorized):
        connect(sim, token="wrong")
    resp = requests.get(f"{sim.url}/library/sections", timeout=TIMEOUT)
    assert resp.status_code == 401 and resp.text.startswith("<html>")
    ok = requests.get(f"{sim.url}/library/sections", params={"X-Plex-Token": TOKEN}, timeout=TIMEOUT)
    assert ok.status_code == 200
    assert all("X-Plex-Token" not in r["query"] for r in sim.requests)  # the token is never logged


def test_unknown_rating_key_is_not_found(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    with pytest.raises(NotFound):
        plex.fetchItem(987654)
    assert sim.requests[-1]["status"] == 404


def test_bad_edits_are_rejected(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    put = plex._session.put
    with pytest.raises(BadRequest):  # missing type
        plex.query(f"/library/sections/{movies}/all?id={rk_by_title(sim, 'Alpha')}&title.value=X", method=put)
    with pytest.raises(NotFound):
        plex.query(f"/library/sections/{movies}/all?id=987654&type=1&title.value=X", method=put)
    assert sim.item(rk_by_title(sim, "Alpha"))["title"] == "Alpha"


# ---- editing -----------------------------------------------------------------------------------

def test_batch_edit_with_locks(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    rk = rk_by_title(sim, "Alpha")
    before = sim.item(rk)["updated_at"]
    movie = plex.fetchItem(rk)
    movie.batchEdits()
    movie.editTitle("New Title").editSummary("New summary").editStudio("S & P + Co").editSortTitle("Title, New")
    movie.editOriginallyAvailable("1999-12-31").editTagline("Tag").editUserRating(8.5)
    movie.edit(**{"year.value": 1999, "year.locked": 1})
    movie.saveEdits()
    puts = [r for r in sim.requests if r["method"] == "PUT"]
    assert len(puts) == 1  # one batched PUT
    movie.reload()
    assert (movie.title, movie.summary, movie.studio, movie.titleSort) == (
        "New Title", "New summary", "S & P + Co", "Title, New")
    assert (movie.year, movie.tagline, movie.userRating) == (1999, "Tag", 8.5)
    assert movie.originallyAvailableAt.strftime("%Y-%m-%d") == "1999-12-31"
    for name in ("title", "summary", "studio", "titleSort", "year", "originallyAvailableAt"):
        assert movie.isLocked(name), name
    snap = sim.item(rk)
    assert snap["title"] == "New Title" and snap["year"] == 1999 and snap["updated_at"] > before

    movie.editTagline(None, locked=False)
    movie.reload()
    assert movie.tagline is None and not movie.isLocked("tagline")
    assert "tagline" not in sim.item(rk)["locked"]


def test_add_and_remove_tags(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    rk = rk_by_title(sim, "Alpha")
    movie = plex.fetchItem(rk)
    movie.addGenre("Sci-Fi & Fantasy")
    movie.reload()
    assert [g.tag for g in movie.genres] == ["Drama", "Comedy", "Action", "a,b", "Sci-Fi & Fantasy"]
    assert movie.isLocked("genre")

    movie.removeGenre(["Comedy", "a,b"])  # names with commas survive plexapi's double encoding
    movie.reload()
    assert [g.tag for g in movie.genres] == ["Drama", "Action", "Sci-Fi & Fantasy"]

    odd = "Zoë, Jr. & Co 🎬 + 100%"
    movie.editTags("actor", [odd])
    movie.reload()
    assert [r.tag for r in movie.roles] == ["A1", "A2", "A3", "A4", "A5", odd]
    assert movie.isLocked("actor")
    movie.editTags("actor", [odd, "A1"], remove=True)
    movie.addLabel("synced").addCollection("Group: Part 1/2")
    movie.reload()
    assert [r.tag for r in movie.roles] == ["A2", "A3", "A4", "A5"]
    assert [label.tag for label in movie.labels] == ["L1", "synced"]
    assert [c.tag for c in movie.collections] == ["Studio A", "Group: Part 1/2"]
    snap = sim.item(rk)
    assert snap["actors"] == ["A2", "A3", "A4", "A5"] and {"genre", "actor", "label"} <= snap["locked"]


def test_bulk_lock_without_id(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    plex.library.sectionByID(movies).lockAllField("thumb")
    assert all("thumb" in i["locked"] for i in sim.items() if i["section_key"] == movies)
    plex.library.sectionByID(movies).unlockAllField("thumb")
    assert not any("thumb" in i["locked"] for i in sim.items())


def test_rate_sets_user_rating(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    movie = plex.fetchItem(rk_by_title(sim, "Beta"))
    movie.rate(7)
    movie.reload()
    assert movie.userRating == 7.0
    movie.rate(None)
    movie.reload()
    assert movie.userRating is None


def test_upload_poster_from_bytes_and_url(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    rk = rk_by_title(sim, "Beta")
    movie = plex.fetchItem(rk)
    image = b"\x89PNG\r\n\x1a\nfake-image-bytes"
    movie.uploadPoster(filepath=image)
    sha1 = hashlib.sha1(image).hexdigest()
    posters = movie.posters()
    assert [p.ratingKey for p in posters] == [f"upload://posters/{sha1}"]
    assert posters[0].selected
    movie.reload()
    assert movie.thumb.startswith(f"/library/metadata/{rk}/thumb/") and movie.isLocked("thumb")
    assert sim.item(rk)["poster_sha1"] == sha1

    movie.uploadPoster(url="http://example.com/p.jpg?x=1&y=2")
    keys = {p.ratingKey: p.selected for p in movie.posters()}
    assert keys == {f"upload://posters/{sha1}": False, "http://example.com/p.jpg?x=1&y=2": True}
    assert sim.item(rk)["poster"] == "http://example.com/p.jpg?x=1&y=2"


def test_unicode_round_trip(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    rk = rk_by_title(sim, "Alpha")
    movie = plex.fetchItem(rk)
    text = 'Family 👩\u200d👩\u200d👧 "quoted" <b> & \'single\'\nline two\tTabbed\r\nCafé ü'
    movie.editSummary(text).editTitle("Tïtle ✨ <&>")
    movie.reload()
    assert movie.summary == text
    assert movie.title == "Tïtle ✨ <&>"
    assert sim.item(rk)["summary"] == text


def test_full_plexsync_sequence(sim: PlexSim) -> None:
    """The issue's 'done when': connect, sections, paged all(), find by file, reload, edit with locks,
    add and remove tags, upload a poster, reload and see every change."""
    key = sim.add_section("Scenes", ["/media/scenes"])
    for n in range(230):
        sim.add_item(key, f"Scene {n}", [f"/media/scenes/s{n}.mp4"], genres=["G1", "G2", "G3"],
                     actors=["P1", "P2", "P3", "P4"])
    plex = connect(sim)
    section = plex.library.section("Scenes")
    index = {part.file: m.ratingKey for m in section.all() for media in m.media for part in media.parts}
    assert len(index) == 230
    movie = plex.fetchItem(index["/media/scenes/s123.mp4"])
    movie.reload()
    movie.batchEdits()
    movie.editTitle("Synced").editSummary("Details").addGenre("G4")
    movie.saveEdits()
    movie.reload()
    movie.removeGenre("G1")
    movie.editTags("actor", ["P5"])
    movie.uploadPoster(filepath=b"cover")
    movie.reload()
    assert movie.title == "Synced" and movie.isLocked("title") and movie.isLocked("summary")
    assert [g.tag for g in movie.genres] == ["G2", "G3", "G4"]
    assert [r.tag for r in movie.roles] == ["P1", "P2", "P3", "P4", "P5"]
    assert movie.isLocked("thumb") and movie.posters()[0].selected


# ---- faults ------------------------------------------------------------------------------------

def test_latency_is_applied_and_logged(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    sim.set_latency(30)
    plex.library.sections()
    sim.set_latency(0)
    plex.query("/")
    assert [r["delay_ms"] for r in sim.requests[-2:]] == [30, 0]


def test_down_refuses_then_comes_back_on_same_port(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    url = sim.url
    sim.go_down()
    with pytest.raises(requests.exceptions.ConnectionError):
        plex.query("/")
    with pytest.raises(requests.exceptions.ConnectionError):
        connect(sim)
    sim.come_up()
    assert sim.url == url
    assert [s.title for s in plex.library.sections()] == ["Scenes", "Archive"]


def test_fail_next_then_success(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    sim.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(BadRequest, match=r"\(503\)"):
            plex.query("/library/sections")
    assert len(plex.query("/library/sections")) == 2
    assert [r["status"] for r in sim.requests[-3:]] == [503, 503, 200]
    with pytest.raises(ValueError):
        sim.fail_next(1, status=599)  # unknown codes crash plexapi: refused


def test_hang_times_out_then_recovers(sim: PlexSim, movies: int) -> None:
    plex = connect(sim, timeout=0.5)
    sim.set_hang(True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        plex.query("/library/sections")
    sim.set_hang(False)
    assert len(plex.query("/library/sections")) == 2


def test_stop_releases_hung_requests(movies: int, sim: PlexSim) -> None:
    sim.set_hang(True)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(requests.get(f"{sim.url}/", headers={"X-Plex-Token": TOKEN}, timeout=TIMEOUT))
        except requests.RequestException as exc:
            outcome.append(exc)

    client = threading.Thread(target=call, daemon=True)
    client.start()
    for _ in range(200):  # wait (bounded) until the request has arrived
        if sim.request_count():
            break
        threading.Event().wait(0.02)
    sim.stop()
    client.join(TIMEOUT)
    assert not client.is_alive()
    assert isinstance(outcome[0], requests.exceptions.ConnectionError)  # dropped, never answered
    assert not [t for t in threading.enumerate() if t.name.startswith("PlexSim:")]


# ---- request log over HTTP ---------------------------------------------------------------------

def test_sandbox_requests_json_and_reset(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    plex.library.sections()
    plex.fetchItem(rk_by_title(sim, "Alpha"))
    with urllib.request.urlopen(f"{sim.url}/sandbox/requests", timeout=TIMEOUT) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        payload = json.load(resp)
    assert payload["total"] == 4
    assert payload["by_method"] == {"GET": 4}
    assert payload["by_path"]["/library/sections"] == 1
    assert [r["path"] for r in payload["requests"]][:2] == ["/", "/library"]
    assert sim.request_count("GET", "/library/metadata/") == 1
    reset = urllib.request.Request(f"{sim.url}/sandbox/reset", method="POST", data=b"")
    with urllib.request.urlopen(reset, timeout=TIMEOUT):
        pass
    assert sim.request_count() == 0  # sandbox endpoints never count themselves
    with urllib.request.urlopen(f"{sim.url}/sandbox/requests", timeout=TIMEOUT) as resp:
        assert json.load(resp)["total"] == 0


def test_keep_alive_reuses_one_connection(sim: PlexSim, movies: int) -> None:
    with requests.Session() as session:
        first = session.get(f"{sim.url}/", headers={"X-Plex-Token": TOKEN}, timeout=TIMEOUT)
        second = session.get(f"{sim.url}/library", headers={"X-Plex-Token": TOKEN}, timeout=TIMEOUT)
    assert first.raw.version == 11 and "close" not in first.headers.get("Connection", "")
    assert second.status_code == 200


# ---- scale and escaping ------------------------------------------------------------------------

def test_large_library_pages_from_the_end(sim: PlexSim) -> None:
    key = sim.add_section("Huge", ["/media/huge"])
    for n in range(20_000):
        sim.add_item(key, f"Item {n}", [f"/media/huge/{n}.mp4"], genres=["Drama"])
    resp = requests.get(f"{sim.url}/library/sections/{key}/all",
                        headers={"X-Plex-Token": TOKEN, "X-Plex-Container-Start": "19990",
                                 "X-Plex-Container-Size": "100"}, timeout=TIMEOUT)
    assert 'size="10" totalSize="20000" offset="19990"' in resp.text
    assert resp.text.count("<Video ") == 10


def test_xml_attr_escaping() -> None:
    assert xml_attr('a&b<c>"d"\n\t\r') == "a&amp;b&lt;c&gt;&quot;d&quot;&#10;&#9;&#13;"
    assert xml_attr("bell\x07 emoji 🎬") == "bell emoji 🎬"


# ---- Plex-side changes -------------------------------------------------------------------------

def test_plex_side_refresh_respects_locks_and_items_can_vanish(sim: PlexSim, movies: int) -> None:
    plex = connect(sim)
    rk = rk_by_title(sim, "Alpha")
    plex.fetchItem(rk).editTitle("Locked title")
    sim.edit_item(rk, respect_locks=True, title="Agent title", summary="Agent summary")
    movie = plex.fetchItem(rk)
    assert (movie.title, movie.summary) == ("Locked title", "Agent summary")
    movie.refresh()  # PUT /library/metadata/{rk}/refresh is accepted
    sim.remove_item(rk)
    with pytest.raises(NotFound):
        plex.fetchItem(rk)
    path = "/media/scenes/Studio A/alpha.mp4"
    assert plex.fetchItems(f"/library/sections/{movies}/all?type=1&file={quote(path, safe='')}") == []


def test_library_wide_listing_filters_by_file(sim: PlexSim, movies: int) -> None:
    archive = next(k for k in sim.section_keys() if k != movies)
    path = "/media/scenes/Studio B/beta.mkv"
    sim.add_item(archive, "Beta copy", [path])  # same file in two sections: a real ambiguity
    plex = connect(sim)
    found = plex.library.search(file=path)
    assert sorted((m.title, m.librarySectionID) for m in found) == [("Beta", movies), ("Beta copy", archive)]


# ---- addedAt / updatedAt filters (what PlexSync asks after a path-index miss) --------------------

def test_added_and_updated_filters_in_plexapis_wire_form(sim: PlexSim, movies: int) -> None:
    """plexapi's `filters={"addedAt>>": dt}` becomes `addedAt%3E%3E=<unix seconds>` ("is after",
    strict); updatedAt moves on every edit and a re-added file is a new item with a new addedAt."""
    plex = connect(sim)
    old = rk_by_title(sim, "Alpha")
    beta = rk_by_title(sim, "Beta")
    base = f"/library/sections/{movies}/all?type=1"

    def titles(query: str) -> list[str]:
        return sorted(m.title for m in plex.fetchItems(f"{base}&{query}"))

    added = sim.item(old)["added_at"]
    assert titles(f"addedAt%3E%3E={added - 1}") == ["Alpha", "Beta"]
    assert titles(f"addedAt%3E%3E={added}") == []            # strictly after
    assert titles(f"addedAt%3C%3C={added + 1}") == ["Alpha", "Beta"]
    assert titles("addedAt%3E%3E=-5m") == ["Alpha", "Beta"]   # relative: added in the last 5 minutes
    sim.edit_item(beta, title="Beta 2")
    assert titles(f"updatedAt%3E%3E={added}") == ["Beta 2"]
    new = sim.add_item_again(old)
    assert new != old and sim.item(new)["files"] == ["/media/scenes/Studio A/alpha.mp4"]
    assert titles(f"addedAt%3E%3E={added}") == ["Alpha"]
    root = plex.query(f"{base}&addedAt%3E%3E={added}")
    assert root.attrib["totalSize"] == "1" and root[0].attrib["ratingKey"] == str(new)
    # filters={"or": [{"addedAt>>": t}, {"updatedAt>>": t}]} as plexapi's _validateAdvancedSearch sends it
    either = f"push=1&addedAt%3E%3E={added}&or=1&updatedAt%3E%3E={added}&pop=1"
    assert titles(either) == ["Alpha", "Beta 2"]
    assert titles(f"{either}&addedAt%3C%3C={added + 10**6}") == ["Alpha", "Beta 2"]
    assert titles(f"addedAt%3E%3E={added}&updatedAt%3E%3E={added}") == ["Alpha"]  # AND by default
    assert requests.get(f"{sim.url}{base}&addedAt%3E%3E=soon", headers={"X-Plex-Token": TOKEN},
                        timeout=TIMEOUT).status_code == 400
