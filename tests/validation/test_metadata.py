from validation.config import Settings
from validation.metadata import (content_hash, desired_plex_fields, parse_stash_date, sanitize_text,
                                 split_directors)

SCENE = {
    "id": "7", "title": "A Title", "details": "Line 1\nLine 2\r\n\tTabbed", "date": "2021-03",
    "studio": {"name": "Studio X"}, "code": "ABC-123", "director": "Jane Doe, John Roe; Jane Doe",
    "performers": [{"name": "P One"}, {"name": "P Two"}, {"name": "P One"}],
    "tags": [{"name": "T1"}, {"name": " "}, {"name": "T2"}],
    "groups": [{"group": {"name": "G1"}, "scene_index": 1}],
    "rating100": 85, "files": [{"path": "/data/scenes/Studio X/clip.one.mp4"}], "urls": [],
}


def test_full_mapping():
    f = desired_plex_fields(SCENE, Settings())
    assert f.get("title") == "A Title" and f.get("titleSort") == "A Title"
    assert f.get("summary") == "Line 1\nLine 2\r\n\tTabbed"
    assert f.get("originallyAvailableAt") == "2021-03-01" and f.get("year") == 2021
    assert f.get("studio") == "Studio X"
    assert f.get("tagline") == "ABC-123"
    assert f.get("director") == ("Jane Doe", "John Roe")
    assert f.get("actor") == ("P One", "P Two")
    assert f.get("genre") == ("T1", "T2")
    assert f.get("userRating") == 8.5
    assert "collection" not in f


def test_dates():
    assert parse_stash_date("2020") == ("2020-01-01", 2020)
    assert parse_stash_date("2020-12") == ("2020-12-01", 2020)
    assert parse_stash_date("2020-02-29") == ("2020-02-29", 2020)
    assert parse_stash_date("2021-02-29") is None
    assert parse_stash_date("garbage") is None
    empty = desired_plex_fields(dict(SCENE, date=None), Settings())
    assert empty.get("originallyAvailableAt") == "" and empty.get("year") is None
    bad = desired_plex_fields(dict(SCENE, date="2021-13-01"), Settings())
    assert "originallyAvailableAt" not in bad and "year" not in bad


def test_title_falls_back_to_file_name():
    f = desired_plex_fields(dict(SCENE, title=""), Settings())
    assert f.get("title") == "clip.one"
    w = desired_plex_fields(dict(SCENE, title=None, files=[{"path": "D:\\Vids\\Name.mkv"}]), Settings())
    assert w.get("title") == "Name"
    none = desired_plex_fields(dict(SCENE, title="", files=[]), Settings())
    assert "title" not in none and "titleSort" not in none


def test_toggles_and_collections():
    off = Settings(sync_title=False, sync_details=False, sync_date=False, sync_studio=False, sync_code=False,
                   sync_director=False, sync_performers=False, sync_tags=False, sync_rating=False)
    assert desired_plex_fields(SCENE, off).names() == []
    both = desired_plex_fields(SCENE, Settings(collections_from_studio=True, collections_from_groups=True))
    assert both.get("collection") == ("Studio X", "G1")
    groups = desired_plex_fields(SCENE, Settings(collections_from_groups=True))
    assert groups.get("collection") == ("G1",)


def test_rating_and_empty_values():
    assert desired_plex_fields(dict(SCENE, rating100=None), Settings()).get("userRating") is None
    assert desired_plex_fields(dict(SCENE, rating100=100), Settings()).get("userRating") == 10.0
    f = desired_plex_fields(dict(SCENE, studio=None, code=None, director=None, performers=[], tags=[]), Settings())
    assert f.get("studio") == "" and f.get("tagline") == ""
    assert f.get("director") == () and f.get("actor") == () and f.get("genre") == ()


def test_sanitize_keeps_text_removes_xml_illegal():
    keep = "a\tb\nc\r\nd — “quoted” ‘x’ 👩‍👩‍👧 🏳️‍🌈 émoji"
    assert sanitize_text(keep) == keep
    assert sanitize_text("a\x00b\x01c\x1fd\x0be\x0cf") == "abcdef"
    assert sanitize_text("x\ud800y\udfffz") == "xyz"
    assert sanitize_text("p\ufffeq\uffffr") == "pqr"
    assert sanitize_text("\ud83d\ude00") == "😀"  # a pair split into two code points is rejoined
    assert sanitize_text(None) == ""


def test_long_details_not_truncated_titles_capped():
    details = ("0123456789" * 1000)
    assert len(details) == 10_000
    f = desired_plex_fields(dict(SCENE, details=details, title="T" * 400), Settings())
    assert f.get("summary") == details
    assert len(f.get("title")) == 255


def test_split_directors():
    assert split_directors("A, B;C,,  ") == ("A", "B", "C")
    assert split_directors(None) == ()


def test_content_hash_stable_and_sensitive():
    a = desired_plex_fields(SCENE, Settings())
    reordered = dict(SCENE, tags=[{"name": "T2"}, {"name": "T1"}])
    assert content_hash(a) == content_hash(desired_plex_fields(reordered, Settings()))
    assert content_hash(a) != content_hash(desired_plex_fields(dict(SCENE, title="B"), Settings()))
    assert content_hash(a) != content_hash(desired_plex_fields(SCENE, Settings(preserve_plex_edits=True)))
    assert content_hash(a) != content_hash(desired_plex_fields(SCENE, Settings(sync_tags=False)))
    assert len(content_hash(a)) == 64


def test_caps_never_split_a_cluster_and_dates_keep_four_digit_years():
    from validation.metadata import cap_text, parse_stash_date
    assert cap_text("a" * 254 + "e\u0301", 255) == "a" * 254
    assert cap_text("x" * 253 + "👩\u200d👩\u200d👧", 255) == "x" * 253
    assert cap_text("y" * 300) == "y" * 255
    assert parse_stash_date("0999-01") == ("0999-01-01", 999)
