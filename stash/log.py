"""Stash's stderr log protocol: one line per message, SOH + level + STX + text.

Stash splits stderr on newlines and stops reading at a line over 64 KiB, so every message is folded to
one line and capped. Output is UTF-8 whatever the console encoding is (Windows consoles are not).
Registered secrets (Plex token, session cookie, API key) are masked in every line, whoever logs it.
"""
from __future__ import annotations

import _thread  # threading's lock without threading's import cost (every hook imports this module)
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

_LEVEL_CHARS = {"trace": "t", "debug": "d", "info": "i", "warning": "w", "error": "e"}
# Stash's reader gives up at 64 KiB; stay far below it so a long path list can never break the pipe.
MAX_LINE_BYTES = 16 * 1024
_TRUNCATION_MARK = " …[truncated]"

_lock = _thread.allocate_lock()
_secrets: set[str] = set()
_debug_enabled = False
_stream: BinaryIO | None = None


def add_secret(value: object) -> None:
    """Mask this value in every later log line (tokens, cookies, keys)."""
    text = str(value or "")
    if len(text) >= 4:
        with _lock:
            _secrets.add(text)


def set_debug(enabled: bool) -> None:
    global _debug_enabled
    _debug_enabled = bool(enabled)


def set_stream(stream: BinaryIO | None) -> None:
    """Redirect output (tests); None means sys.stderr's byte buffer."""
    global _stream
    _stream = stream


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def one_line(text: str) -> str:
    """Fold a message to a single line: newlines become the two characters \\n."""
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def format_line(level_char: str, message: object) -> bytes:
    text = redact(one_line(str(message)))
    data = text.encode("utf-8", errors="replace")
    limit = MAX_LINE_BYTES - 8
    if len(data) > limit:
        mark = _TRUNCATION_MARK.encode("utf-8")
        data = data[: limit - len(mark)].decode("utf-8", errors="ignore").encode("utf-8") + mark
    return b"\x01" + level_char.encode("ascii") + b"\x02" + data + b"\n"


def _write(level_char: str, message: object) -> None:
    line = format_line(level_char, message)
    stream = _stream if _stream is not None else getattr(sys.stderr, "buffer", None)
    try:
        with _lock:
            if stream is None:  # a text-only stderr (embedded interpreters): still one UTF-8-safe line
                sys.stderr.write(line.decode("utf-8"))
                sys.stderr.flush()
            else:
                stream.write(line)
                stream.flush()
    except (BrokenPipeError, ValueError, OSError):
        # Stash closed our stderr (it stops reading after an over-long line); logging must never kill work.
        pass


def trace(message: object) -> None:
    if _debug_enabled:
        _write("t", message)


def debug(message: object) -> None:
    if _debug_enabled:
        _write("d", message)


def info(message: object) -> None:
    _write("i", message)


def warning(message: object) -> None:
    _write("w", message)


def error(message: object) -> None:
    _write("e", message)


def progress(fraction: float) -> None:
    """Job progress bar (tasks only; Stash ignores it for hooks)."""
    try:
        value = min(1.0, max(0.0, float(fraction)))
    except (TypeError, ValueError):
        return
    _write("p", f"{value:.3f}")


def capture_python_logging() -> None:
    """Route Python warnings and library logging (urllib3, plexapi, persist-queue) through this module.

    Anything a library writes to stderr by itself would reach Stash unprefixed and be shown as an error
    (a multi-line warning even as several). Tasks call this before loading those libraries.
    """
    import logging  # noqa: PLC0415 - tasks only; the hook path never pays for it
    import warnings  # noqa: PLC0415

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        debug(f"{category.__name__}: {message}")

    warnings.showwarning = show_warning

    class _StashHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = f"{record.name}: {record.getMessage()}"
            if record.levelno >= logging.ERROR:
                error(text)
            elif record.levelno >= logging.WARNING:
                warning(text)
            else:
                debug(text)

    root = logging.getLogger()
    if not any(isinstance(h, _StashHandler) for h in root.handlers):
        root.addHandler(_StashHandler())
    root.setLevel(logging.DEBUG if _debug_enabled else logging.WARNING)
