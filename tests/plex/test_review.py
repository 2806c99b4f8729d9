from plex.index import Candidate
from plex.pin import item_url
from plex.review import format_review_line

MID = "ab" * 20


def cand(rk: int, path: str) -> Candidate:
    return Candidate(rk, 1, path, item_url(MID, rk))


def test_strict_line_names_everything():
    cs = [cand(101, "/media/scenes/a.mp4"), cand(202, "/media/archive/a.mp4")]
    line = format_review_line(12, "/data/scenes/a.mp4", cs, None, strict=True)
    assert line.startswith("LOW CONFIDENCE")
    assert "scene 12" in line and "/data/scenes/a.mp4" in line
    for c in cs:
        assert str(c.rating_key) in line and c.plex_path in line and c.url in line
    assert "add its item URL to the scene's URLs in Stash" in line
    assert "\n" not in line


def test_non_strict_names_synced_candidate():
    cs = [cand(101, "/m/a.mp4"), cand(202, "/n/a.mp4")]
    line = format_review_line(3, "/d/a.mp4", cs, cs[0], strict=False)
    assert "synced ratingKey 101" in line and "Allow uncertain matches is on" in line


def test_newlines_and_log_control_chars_escaped():
    cs = [cand(1, "/m/evil\nname\r\x01i\x02.mp4")]
    line = format_review_line(5, "/d/x\ny.mp4", cs, None, strict=True)
    assert "\n" not in line and "\r" not in line and "\x01" not in line and "\x02" not in line
    assert "\\n" in line and "\\x01" in line


def test_capped_with_more_tail():
    cs = [cand(i, "/media/" + "x" * 200 + f"/{i}.mp4") for i in range(500)]
    line = format_review_line(9, "/d/" + "y" * 20000, cs, None, strict=True)
    assert len(line) <= 8000
    assert "more candidates" in line
    assert line.endswith("add its item URL to the scene's URLs in Stash")
    assert line.startswith("LOW CONFIDENCE")
