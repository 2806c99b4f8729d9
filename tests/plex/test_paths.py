from plex.paths import basename_key, map_stash_path, normalise_path


def test_separators_duplicates_trailing_slash():
    assert normalise_path("/media//scenes///a.mp4") == "/media/scenes/a.mp4"
    assert normalise_path("/media/scenes/") == "/media/scenes"
    assert normalise_path("/") == "/"


def test_posix_paths_keep_case():
    assert normalise_path("/Media/Scene.MP4") == "/Media/Scene.MP4"


def test_unicode_nfc():
    decomposed = "/m/Cafe\u0301.mp4"
    assert normalise_path(decomposed) == "/m/Caf\u00e9.mp4"
    assert normalise_path(decomposed) == normalise_path("/m/Caf\u00e9.mp4")


def test_windows_drive_and_unc_casefolded():
    assert normalise_path("D:\\Media\\Scenes\\A.mp4") == "d:/media/scenes/a.mp4"
    assert normalise_path("d:/media/scenes/a.mp4") == normalise_path("D:\\MEDIA\\Scenes\\A.MP4")
    assert normalise_path("\\\\NAS\\Share\\X.mp4") == "//nas/share/x.mp4"
    assert normalise_path("\\\\NAS\\Share\\\\sub\\") == "//nas/share/sub"


def test_basename_key():
    assert basename_key("/a/b/Movie.MP4") == "movie.mp4"
    assert basename_key("C:\\x\\Movie.mp4") == "movie.mp4"


def test_map_first_matching_prefix_whole_components():
    pm = (("/data/", "/media/"), ("/data/scenes", "/other"))
    assert map_stash_path("/data/scenes/a.mp4", pm) == "/media/scenes/a.mp4"
    assert map_stash_path("/database/a.mp4", pm) == "/database/a.mp4"  # not a component prefix
    assert map_stash_path("/elsewhere/a.mp4", pm) == "/elsewhere/a.mp4"
    assert map_stash_path("/data//scenes/a.mp4", (("/data/scenes/", "/m"),)) == "/m/a.mp4"


def test_map_windows_to_posix_and_back():
    assert map_stash_path("D:\\Media\\Scenes\\A.mp4", (("d:/media", "/media"),)) == "/media/Scenes/A.mp4"
    assert map_stash_path("/data/x/A.mp4", (("/data", "\\\\nas\\media"),)) == "\\\\nas\\media\\x\\A.mp4"
    assert normalise_path(map_stash_path("/data/x/A.mp4", (("/data", "\\\\nas\\media"),))) == "//nas/media/x/a.mp4"


def test_map_root_prefix_and_empty_map():
    assert map_stash_path("/a/b.mp4", (("/", "/mnt"),)) == "/mnt/a/b.mp4"
    assert map_stash_path("/a/b.mp4", ()) == "/a/b.mp4"
