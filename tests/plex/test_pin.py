from urllib.parse import quote

from plex.pin import item_url, parse_plex_item_url

MID = "0123456789abcdef0123456789abcdef01234567"


def test_app_plex_tv_encoded():
    url = f"https://app.plex.tv/desktop/#!/server/{MID}/details?key=%2Flibrary%2Fmetadata%2F1150"
    assert parse_plex_item_url(url, MID) == 1150


def test_local_web_unencoded_and_extra_params():
    url = f"http://192.168.1.10:32400/web/index.html#!/server/{MID}/details?key=/library/metadata/42&context=x"
    assert parse_plex_item_url(url, MID) == 42
    url2 = f"http://plex.lan:32400/web/index.html#!/server/{MID}/details?context=a&key=%2Flibrary%2Fmetadata%2F7"
    assert parse_plex_item_url(url2, MID) == 7


def test_fully_encoded_and_whitespace():
    url = quote(f"https://app.plex.tv/desktop/#!/server/{MID}/details?key=%2Flibrary%2Fmetadata%2F9", safe="")
    assert parse_plex_item_url("  " + url + " ", MID) == 9


def test_other_server_and_non_plex_urls_ignored():
    other = "f" * 40
    assert parse_plex_item_url(f"https://app.plex.tv/desktop/#!/server/{other}/details?key=%2Flibrary%2Fmetadata%2F1",
                               MID) is None
    assert parse_plex_item_url("https://example.com/scenes/1150", MID) is None
    assert parse_plex_item_url("", MID) is None
    assert parse_plex_item_url(f"https://app.plex.tv/desktop/#!/server/{MID}/details?key=%2Flibrary%2Fmetadata%2F12x",
                               MID) is None


def test_item_url_round_trip():
    url = item_url(MID, 31337)
    assert url == f"https://app.plex.tv/desktop/#!/server/{MID}/details?key=%2Flibrary%2Fmetadata%2F31337"
    assert parse_plex_item_url(url, MID) == 31337
    assert parse_plex_item_url(url, MID.upper()) == 31337


def test_a_rating_key_beyond_sqlite_integers_is_not_a_pin():
    from plex.pin import parse_plex_item_url
    mid = "a" * 40
    url = f"https://app.plex.tv/desktop/#!/server/{mid}/details?key=%2Flibrary%2Fmetadata%2F" + "9" * 25
    assert parse_plex_item_url(url, mid) is None
