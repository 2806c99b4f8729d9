"""Issue 12 artwork end to end: poster modes and the background option through the plugin host."""
from __future__ import annotations

import base64
import io

from PIL import Image

from plex.artwork import POSTER_SIZE, jpeg_size
from tests.worker.helpers import configure, run_task, unambiguous, update_scene


def wide_cover(subject_x: int) -> tuple[str, bytes]:
    """A 16:9 frame: flat background, one detailed block (the subject) at subject_x."""
    image = Image.new("RGB", (640, 360), (40, 60, 90))
    for y in range(100, 300, 4):
        for x in range(subject_x, subject_x + 120, 4):
            image.paste((255, 255, 255) if (x + y) % 8 else (0, 0, 0), (x, y, x + 4, y + 4))
    out = io.BytesIO()
    image.save(out, "PNG")
    data = out.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode(), data


def single(sb) -> tuple[int, int]:
    scene = next(s for s in unambiguous(sb) if len(sb.world.scene_rating_keys[s]) == 1)
    return scene, sb.world.scene_rating_keys[scene][0]


def uploads(sb, rating_key: int, what: str) -> int:
    return len([r for r in sb.plex.requests
                if r["method"] == "POST" and r["path"] == f"/library/metadata/{rating_key}/{what}"])


def test_each_poster_mode_uploads_one_2x3_jpeg_and_a_mode_change_re_renders_once(sandbox):
    sb = sandbox
    scene, rk = single(sb)
    url, cover = wide_cover(subject_x=460)
    configure(sb, poster_mode="crop")
    update_scene(sb, scene, cover_image=url)
    assert sb.host.wait_idle(120)
    poster = sb.plex.uploaded(sb.plex.item(rk)["poster"])
    assert poster[:3] == b"\xff\xd8\xff" and jpeg_size(poster) == POSTER_SIZE
    assert uploads(sb, rk, "posters") == 1
    assert "thumb" in sb.plex.item(rk)["locked"]

    update_scene(sb, scene, title="Same cover, new title")
    assert sb.host.wait_idle(120)
    assert uploads(sb, rk, "posters") == 1  # the cover and mode did not change: no upload

    configure(sb, poster_mode="blur")
    run_task(sb, "Sync all")
    assert sb.host.wait_idle(120)
    blurred = sb.plex.uploaded(sb.plex.item(rk)["poster"])
    assert blurred != poster and jpeg_size(blurred) == POSTER_SIZE
    assert uploads(sb, rk, "posters") == 2
    run_task(sb, "Sync all")
    assert sb.host.wait_idle(120)
    assert uploads(sb, rk, "posters") == 2  # once per mode change, never twice

    configure(sb, poster_mode="")  # as-is: the cover's own bytes again
    run_task(sb, "Sync all")
    assert sb.host.wait_idle(120)
    assert sb.plex.uploaded(sb.plex.item(rk)["poster"]) == cover


def test_crop_follows_the_detailed_part_of_the_frame():
    from plex.artwork import centre_crop_box, subject_crop_box
    _, data = wide_cover(subject_x=480)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    left, _, right, _ = subject_crop_box(image)
    assert left <= 480 and right >= 600            # the whole subject is inside the 2:3 window
    c_left, _, c_right, _ = centre_crop_box(image)
    assert not (c_left <= 480 and c_right >= 600)  # a centre crop would have cut it


def test_background_art_uploaded_once_and_locked(sandbox):
    sb = sandbox
    scene, rk = single(sb)
    url, cover = wide_cover(subject_x=100)
    configure(sb, sync_background_art=True)
    update_scene(sb, scene, cover_image=url)
    assert sb.host.wait_idle(120)
    item = sb.plex.item(rk)
    assert sb.plex.uploaded(item["art"]) == cover and "art" in item["locked"]
    assert uploads(sb, rk, "arts") == 1
    update_scene(sb, scene, details="new details, same cover")
    assert sb.host.wait_idle(120)
    run_task(sb, "Sync all")
    assert sb.host.wait_idle(120)
    assert uploads(sb, rk, "arts") == 1


def test_performer_photo_is_set_by_a_url_plex_can_reach_once(sandbox):
    from tests.worker.helpers import gql
    sb = sandbox
    scene, rk = single(sb)
    performer = sb.world.performers["Ava Lindqvist"]
    url, _ = wide_cover(subject_x=10)
    gql(sb, "mutation($i: PerformerUpdateInput!) { performerUpdate(input: $i) { id } }",
        {"i": {"id": str(performer), "image": url}})
    configure(sb, performer_photos_stash_url="http://stash.lan:9999/")
    update_scene(sb, scene, performer_ids=[str(performer), str(sb.world.performers["Marco Bellini"])])
    assert sb.host.wait_idle(120)
    photo = sb.plex.actor_photo("Ava Lindqvist")
    assert photo.startswith(f"http://stash.lan:9999/performer/{performer}/image?t=")
    assert sb.plex.actor_photo("Marco Bellini") is None  # no image of his own: Stash's default is not sent
    sb.plex.reset_requests()
    update_scene(sb, scene, details="photos unchanged")
    assert sb.host.wait_idle(120)
    edits = [r for r in sb.plex.requests if r["method"] == "PUT"]
    assert edits and not any(k.endswith(".tag.thumb") for r in edits for k in r["query"])


def test_a_cover_pillow_cannot_read_is_uploaded_as_it_is_with_a_warning(sandbox):
    from tests.worker.helpers import plugin_lines
    sb = sandbox
    scene, rk = single(sb)
    broken = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20
    configure(sb, poster_mode="blur")
    update_scene(sb, scene, cover_image="data:image/jpeg;base64," + base64.b64encode(broken).decode())
    assert sb.host.wait_idle(120)
    assert sb.plex.uploaded(sb.plex.item(rk)["poster"]) == broken
    assert any("could not make a 'blur' poster" in line for line in plugin_lines(sb, "warning"))
