"""Stash's stderr log protocol: one prefixed line per message, capped, UTF-8, secrets masked."""
from __future__ import annotations

import io

import pytest

from stash import log


@pytest.fixture
def stream():
    buf = io.BytesIO()
    saved = set(log._secrets)  # other tests (fuzzing) register arbitrary "secrets"; start clean
    log._secrets.clear()
    log.set_stream(buf)
    yield buf
    log.set_stream(None)
    log.set_debug(False)
    log._secrets.clear()
    log._secrets.update(saved)


def lines(buf: io.BytesIO) -> list[bytes]:
    return buf.getvalue().split(b"\n")[:-1]


def test_levels_and_one_line_per_message(stream):
    log.info("a\nb\r\nc")
    log.warning("w")
    log.error("e")
    log.debug("hidden")
    log.set_debug(True)
    log.debug("shown")
    got = lines(stream)
    assert got == [b"\x01i\x02a\\nb\\nc", b"\x01w\x02w", b"\x01e\x02e", b"\x01d\x02shown"]


def test_progress_is_clamped(stream):
    log.progress(1.7)
    log.progress(-1)
    log.progress("x")
    assert lines(stream) == [b"\x01p\x021.000", b"\x01p\x020.000"]


def test_long_messages_are_capped_well_under_64_kib(stream):
    log.info("é" * 200_000)
    (line,) = lines(stream)
    assert len(line) <= log.MAX_LINE_BYTES and line.decode("utf-8").endswith("[truncated]")


def test_utf8_whatever_the_text(stream):
    log.info("Zoë 👩‍👩‍👧 \ud800 lone surrogate")
    (line,) = lines(stream)
    assert "Zoë 👩‍👩‍👧".encode() in line


def test_registered_secrets_never_appear(stream):
    log.add_secret("tok-SECRET-123")
    log.error("Plex said 401 for http://plex/?X-Plex-Token=tok-SECRET-123")
    assert b"tok-SECRET-123" not in stream.getvalue() and b"***" in stream.getvalue()
