"""Posters and backgrounds made from a Stash cover (Pillow; see README "Poster modes").

A Stash cover is a 16:9 frame; Plex shows movie posters at 2:3, so as-is covers are letterboxed or cut by
Plex's own crop. Modes:
- as-is:  the cover's own bytes, unchanged (no Pillow needed; what PlexSync always did);
- crop:   a 2:3 window of the full height, placed where the frame has the most detail (edge energy per
          column, a light-weight stand-in for "where the subject is"; bench/artwork.py measures it against
          a plain centre crop);
- blur:   the whole frame, fit to the poster's width, over a blurred, darkened fill of itself.
Rendered posters are POSTER_SIZE JPEGs (1000x1500, the size of Plex's own agent posters, sharp on a TV)
at quality 90. `image_state` hashes cover + mode + background option: an upload happens only when it
changes, so a new mode re-renders each item once, on its next sync.
"""
from __future__ import annotations

import hashlib
import io

POSTER_MODES = ("as-is", "crop", "blur")
DEFAULT_POSTER_MODE = "as-is"
POSTER_SIZE = (1000, 1500)
JPEG_QUALITY = 90
_ANALYSIS_WIDTH = 192  # the energy profile is computed on a small copy: fast, and detail still shows


def poster_mode(settings: object) -> str:
    mode = str(getattr(settings, "poster_mode", "") or "").strip().lower()
    return mode if mode in POSTER_MODES else DEFAULT_POSTER_MODE


def image_state(cover: bytes | None, settings: object) -> str | None:
    """The hash that decides "upload again": the cover's bytes, plus the mode and the background option
    when they are not the defaults (so existing as-is posters are not re-sent after an upgrade)."""
    if not cover:
        return None
    digest = hashlib.sha1(cover).hexdigest()
    mode = poster_mode(settings)
    art = bool(getattr(settings, "sync_background_art", False))
    if mode == DEFAULT_POSTER_MODE and not art:
        return digest
    return hashlib.sha1(f"{digest}|{mode}|{int(art)}".encode()).hexdigest()


def render_poster(cover: bytes, mode: str) -> bytes:
    """The poster bytes to upload for this mode (as-is: the cover itself)."""
    if mode == "as-is":
        return cover
    from PIL import Image, ImageFilter, ImageOps  # noqa: PLC0415 - only the non-default modes need Pillow

    with Image.open(io.BytesIO(cover)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    width, height = POSTER_SIZE
    if mode == "crop":
        box = subject_crop_box(image)
        poster = image.crop(box).resize(POSTER_SIZE, Image.Resampling.LANCZOS)
    elif mode == "blur":
        fill = ImageOps.fit(image, (width // 4, height // 4), Image.Resampling.BILINEAR)
        fill = fill.filter(ImageFilter.GaussianBlur(12)).resize(POSTER_SIZE, Image.Resampling.BILINEAR)
        poster = Image.eval(fill, lambda v: int(v * 0.55))  # darker, so the sharp frame stands out
        scale = width / image.width
        frame = image.resize((width, max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
        if frame.height > height:  # a portrait cover already fits: use it whole, fit to the height
            frame = ImageOps.contain(image, POSTER_SIZE, Image.Resampling.LANCZOS)
        poster.paste(frame, ((width - frame.width) // 2, (height - frame.height) // 2))
    else:
        raise ValueError(f"unknown poster mode {mode!r}")
    out = io.BytesIO()
    poster.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def poster_bytes(cover: bytes, settings: object, scene_id: int) -> bytes:
    """The poster to upload; a cover Pillow cannot read (or no Pillow) falls back to the cover itself with
    one warning, so a bad image never fails the scene's sync."""
    mode = poster_mode(settings)
    try:
        return render_poster(cover, mode)
    except (OSError, ValueError, ImportError, _pillow_error()) as exc:
        from stash import log  # noqa: PLC0415
        log.warning(f"scene {scene_id}: could not make a '{mode}' poster ({type(exc).__name__}: "
                    f"{str(exc)[:200]}); uploading the cover as it is")
        return cover


def _pillow_error() -> type[Exception]:
    """Pillow's DecompressionBombError (an Exception subclass Pillow raises for huge images)."""
    try:
        from PIL import Image  # noqa: PLC0415
        return Image.DecompressionBombError
    except ImportError:
        return ImportError


def centre_crop_box(image: object) -> tuple[int, int, int, int]:
    w, h = image.width, image.height  # type: ignore[attr-defined]
    cw, ch = _window(w, h)
    left, top = (w - cw) // 2, (h - ch) // 2
    return left, top, left + cw, top + ch


def subject_crop_box(image: object) -> tuple[int, int, int, int]:
    """The 2:3 window (full height of a landscape frame) holding the most edge energy; centre on ties."""
    from PIL import ImageFilter  # noqa: PLC0415

    w, h = image.width, image.height  # type: ignore[attr-defined]
    cw, ch = _window(w, h)
    if cw >= w:
        return centre_crop_box(image)
    scale = _ANALYSIS_WIDTH / w
    small = image.convert("L").resize((_ANALYSIS_WIDTH, max(1, round(h * scale))))  # type: ignore[attr-defined]
    edges = small.filter(ImageFilter.FIND_EDGES)
    sw, sh = edges.size
    data = edges.tobytes()
    columns = [sum(data[x::sw]) for x in range(sw)]
    win = max(1, round(cw * scale))
    best_left, best = (sw - win) // 2, -1
    total = sum(columns[:win])
    centre = (sw - win) / 2
    for left in range(0, sw - win + 1):
        if left:
            total += columns[left + win - 1] - columns[left - 1]
        # prefer the centre among near-equal windows (a plain background should not drift to an edge)
        score = total - abs(left - centre) * 0.02 * (total / win if win else 0)
        if score > best:
            best, best_left = score, left
    left = min(max(0, round(best_left / scale)), w - cw)
    top = (h - ch) // 2
    return left, top, left + cw, top + ch


def _window(w: int, h: int) -> tuple[int, int]:
    """The largest 2:3 window inside w x h."""
    if w * 3 >= h * 2:
        return max(1, (h * 2) // 3), h
    return w, max(1, (w * 3) // 2)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of image bytes (tests and the benchmark check what was uploaded)."""
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(data)) as image:
        return image.size
