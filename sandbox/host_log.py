"""The plugin stderr log protocol (stash pkg/logger/plugin.go) and the host's log viewer."""

from __future__ import annotations

import threading
import time
from typing import IO, Callable

from sandbox.capture import capture

SOH, STX = 0x01, 0x02
LEVEL_CHARS = {"t": "trace", "d": "debug", "i": "info", "w": "warning", "e": "error", "p": "progress"}
# bufio.Scanner's default maximum token: a line (without its newline) longer than this stops the reader.
MAX_LINE = 64 * 1024 - 1

LogEntry = tuple[str, str]


class LogViewer:
    """Thread-safe list of (level, text) lines, like Stash's log page; waiters wake on every append."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self._cond = threading.Condition()

    def add(self, level: str, text: str) -> None:
        capture("log", f"{level} {text}")
        with self._cond:
            self.entries.append((level, text))
            self._cond.notify_all()

    def snapshot(self) -> list[LogEntry]:
        with self._cond:
            return list(self.entries)

    def wait_for(self, predicate: Callable[[LogEntry], bool], timeout: float, start: int = 0) -> LogEntry | None:
        """First entry (from index `start`) matching predicate, waiting up to timeout seconds; None if none."""
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.entries):
                    if predicate(self.entries[index]):
                        return self.entries[index]
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)


def detect_level(line: str) -> tuple[str | None, str]:
    """(level or None, text) for one stderr line: prefixed only if len >= 4, SOH, known char, STX."""
    if len(line) < 4 or ord(line[0]) != SOH or ord(line[2]) != STX:
        return None, line
    level = LEVEL_CHARS.get(line[1])
    if level is None:
        return None, line
    return level, line[3:].strip()


def read_plugin_stderr(stream: IO[bytes], log: Callable[[str, str], None], err_level: str,
                       on_progress: Callable[[float], None] | None) -> None:
    """Read stderr line by line until EOF or an over-long line, then close the pipe (as Stash does).

    `log(level, text)` receives the plugin's lines (un-prefixed ones at err_level; "none" drops them);
    progress lines go to on_progress (tasks) or are ignored (hooks: on_progress is None).
    """
    try:
        while True:
            raw = stream.readline(MAX_LINE + 2)
            if not raw:
                break
            capture("stderr", raw)
            if len(raw) > MAX_LINE + 1 or (len(raw) == MAX_LINE + 1 and not raw.endswith(b"\n")):
                log("error", "error reading plugin log messages: bufio.Scanner: token too long")
                break
            line = raw.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", errors="replace")
            level, text = detect_level(line)
            if level is None:
                if err_level != "none":
                    log(err_level, text)
            elif level == "progress":
                if on_progress is None:
                    continue               # hooks have no progress channel
                try:
                    on_progress(float(text))
                except ValueError:
                    log("error", f"Error parsing progress value: {text!r}")
            else:
                log(level, text)
    except (OSError, ValueError):
        pass                               # pipe closed under us (host shutdown)
    finally:
        try:
            stream.close()                 # later plugin writes to stderr now fail with EPIPE
        except OSError:
            pass
