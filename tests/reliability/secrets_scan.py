"""Look for every secret the sandbox issued in everything plugin processes printed (sandbox/capture.py).

Used by tests/conftest.py's pytest_sessionfinish (fails the run) and tests/reliability/test_secrets.py.
Findings name the kind of secret, the file and the offset, never the secret itself.
"""
from __future__ import annotations

import os

from sandbox.capture import ENV, ISSUED_SECRETS

MIN_SECRET_LEN = 8  # shorter test values could match ordinary text by chance


def _kind(secret: str) -> str:
    from sandbox import PLEX_TOKEN, STASH_API_KEY, STASH_PASSWORD
    return {PLEX_TOKEN: "Plex token", STASH_API_KEY: "Stash API key",
            STASH_PASSWORD: "Stash password"}.get(secret, "session cookie or other issued secret")


def capture_files(folder: str | None = None) -> list[str]:
    folder = folder or os.environ.get(ENV)
    if not folder or not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


def scan_bytes(data: bytes, secrets: set[str] | None = None) -> list[tuple[str, int]]:
    """(kind, offset) of every secret found in data (also as JSON-escaped or URL-quoted text)."""
    from urllib.parse import quote
    found = []
    for secret in secrets if secrets is not None else set(ISSUED_SECRETS):
        if len(secret) < MIN_SECRET_LEN:
            continue
        for form in {secret, quote(secret, safe=""), secret.encode("unicode_escape").decode("ascii")}:
            at = data.find(form.encode("utf-8", "surrogatepass"))
            if at >= 0:
                found.append((_kind(secret), at))
                break
    return found


def scan_capture(folder: str | None = None, secrets: set[str] | None = None) -> list[str]:
    findings = []
    for path in capture_files(folder):
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        findings += [f"{kind} in {path} at byte {at}" for kind, at in scan_bytes(data, secrets)]
    return findings


def captured_bytes(folder: str | None = None) -> int:
    return sum(os.path.getsize(p) for p in capture_files(folder) if os.path.isfile(p))
