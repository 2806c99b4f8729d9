"""Issue 5: the "Health check" task through the sandbox host, and its path helpers."""
from __future__ import annotations

from tests.worker.helpers import configure, run_task
from worker.health import head, is_under, suggest_prefixes


def run(sb) -> list[tuple[str, str]]:
    start = len(sb.host.log_snapshot())
    run_task(sb, "Health check")
    return [(lvl, t) for lvl, t in sb.host.log_snapshot()[start:] if "[Plugin / PlexSync]" in t]


def test_healthy_sandbox_reports_plex_token_libraries_and_match_counts(sandbox):
    sb = sandbox
    lines = run(sb)
    texts = [t for _lvl, t in lines]
    assert any("Health: Plex reachable at" in t and sb.plex.machine_identifier in t for t in texts)
    assert any("Health: Plex token valid" in t for t in texts)
    assert any("'Scenes' (/media/scenes), 'Archive' (/media/archive)" in t for t in texts)
    assert any("20 sampled Stash scene(s): 18 match HIGH, 2 LOW, 0 not at all" in t for t in texts), texts
    assert not any("path_map looks wrong" in t for t in texts)
    assert all(lvl == "info" for lvl, _t in lines)
    assert sb.plex.request_count(method="PUT") == 0  # a check writes nothing to Plex


def test_wrong_path_map_gets_a_hint_with_the_right_mapping(sandbox):
    sb = sandbox
    configure(sb, path_map="/data/=>/mnt/")
    lines = run(sb)
    texts = [t for _lvl, t in lines]
    # Every file name is still found in Plex, so the matches drop to LOW (name only), never HIGH.
    assert any("20 sampled Stash scene(s): 0 match HIGH, 20 LOW, 0 not at all" in t for t in texts), texts
    hints = [t for lvl, t in lines if lvl == "warning" and "path_map looks wrong" in t]
    assert len(hints) == 1
    assert "Stash files are under /data/scenes" in hints[0]
    assert "Plex libraries are at /media/scenes, /media/archive" in hints[0]
    assert "try path_map '/data/=>/media/'" in hints[0]
    assert any("Health: no Plex item has the path of scene" in t and "looked for /mnt/scenes/" in t
               and "only its file name is in Plex" in t for t in texts)


def test_missing_path_map_gets_the_same_hint(sandbox):
    sb = sandbox
    configure(sb, path_map="")
    hints = [t for lvl, t in run(sb) if lvl == "warning" and "path_map looks wrong" in t]
    assert len(hints) == 1 and "try path_map '/data/=>/media/'" in hints[0]


def test_bad_token_is_reported_without_leaking_it(sandbox):
    sb = sandbox
    configure(sb, plex_token="not-the-right-token")
    lines = run(sb)
    errors = [t for lvl, t in lines if lvl == "error"]
    assert any("Plex rejected the token (401 Unauthorized)" in t for t in errors), lines
    assert any("Health: Plex reachable" in t for _l, t in lines)  # reachable, but the token is wrong
    assert not any("not-the-right-token" in t for _l, t in sb.host.log_snapshot())


def test_plex_down_is_reported_as_unreachable(sandbox):
    sb = sandbox
    sb.plex.go_down()
    try:
        lines = run(sb)
    finally:
        sb.plex.come_up()
    assert any(lvl == "error" and f"Plex is not reachable at {sb.plex.url}" in t for lvl, t in lines), lines


def test_unknown_library_is_named(sandbox):
    sb = sandbox
    configure(sb, plex_libraries="Scenes, Movies 4K")
    texts = [t for _l, t in run(sb)]
    assert any("'Movies 4K', which Plex does not have" in t for t in texts)
    assert any("syncing into 'Scenes'" in t for t in texts)


def test_path_helpers():
    assert head("/data/scenes/Studio/x.mp4") == "/data/scenes"
    assert head("C:\\Videos\\Scenes\\x.mp4") == "C:/Videos"
    assert is_under("/media/scenes/A/x.mp4", "/media/scenes/")
    assert not is_under("/media/scenes2/x.mp4", "/media/scenes")
    assert suggest_prefixes("/data/scenes/A/x.mp4", "/media/scenes/A/x.mp4") == ("/data/", "/media/")
    assert suggest_prefixes("D:\\Scenes\\A\\x.mp4", "/mnt/scenes/A/x.mp4") == ("D:/", "/mnt/")
    assert suggest_prefixes("/same/x.mp4", "/same/x.mp4") is None
    assert suggest_prefixes("/a/x.mp4", "/b/y.mp4") is None


def test_path_map_suggestion_keeps_a_share_prefix():
    from plex.paths import map_stash_path, normalise_path
    from worker.health import suggest_prefixes
    pair = suggest_prefixes(r"\\nas\share\scenes\x.mp4", "/media/scenes/x.mp4")
    assert pair == ("//nas/share/", "/media/")
    assert normalise_path(map_stash_path(r"\\nas\share\scenes\x.mp4", [pair])) == "/media/scenes/x.mp4"
    back = suggest_prefixes("/data/scenes/x.mp4", r"\\NAS\Share\scenes\x.mp4")
    assert back == ("/data/", "//NAS/Share/")
    assert normalise_path(map_stash_path("/data/scenes/x.mp4", [back])) == normalise_path(
        r"\\NAS\Share\scenes\x.mp4")
