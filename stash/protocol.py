"""The plugin's stdin and stdout: one JSON object in, one JSON object out.

Stash writes `{"server_connection": ..., "args": ...}` to stdin and parses stdout as
`{"output": ..., "error": ...}`; anything else printed on stdout makes Stash lose our error.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

# Hosts that mean "every interface of this machine": the plugin must dial loopback instead.
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


class InputError(ValueError):
    """stdin is not a usable plugin invocation; the message is shown to the user as is."""


@dataclass(frozen=True)
class ServerConnection:
    scheme: str
    host: str
    port: int
    session_cookie: str | None
    stash_dir: str | None
    plugin_dir: str | None

    @property
    def base_url(self) -> str:
        host = self.host
        if host in _WILDCARD_HOSTS:
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def graphql_url(self) -> str:
        return self.base_url + "/graphql"


@dataclass(frozen=True)
class Invocation:
    connection: ServerConnection
    args: dict[str, Any]

    @property
    def hook_context(self) -> dict[str, Any] | None:
        ctx = self.args.get("hookContext")
        return ctx if isinstance(ctx, dict) else None


def read_invocation(stream: BinaryIO) -> Invocation:
    """Read and validate stdin as UTF-8 bytes (never the console's code page)."""
    raw = stream.read()
    if not raw or not raw.strip():
        raise InputError("no input on stdin: PlexSync must be started by Stash")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"stdin is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"stdin is not valid JSON: {getattr(exc, 'msg', 'too deeply nested')}") from None
    if not isinstance(data, dict):
        raise InputError(f"stdin must be a JSON object, got {type(data).__name__}")
    args = data.get("args")
    if not isinstance(args, dict):
        raise InputError("stdin has no 'args' object")
    return Invocation(connection=parse_server_connection(data.get("server_connection")), args=args)


def parse_server_connection(value: Any) -> ServerConnection:
    if not isinstance(value, dict):
        raise InputError("stdin has no 'server_connection' object")
    scheme = str(value.get("Scheme") or "http").lower()
    if scheme not in ("http", "https"):
        raise InputError(f"server_connection.Scheme must be http or https, got {scheme[:20]!r}")
    port = value.get("Port", 9999)
    if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).isdigit():
        raise InputError("server_connection.Port is not a number")
    port = int(port)
    if not 0 < port < 65536:
        raise InputError(f"server_connection.Port {port} is out of range")
    cookie = value.get("SessionCookie")
    cookie_value = None
    if isinstance(cookie, dict) and isinstance(cookie.get("Value"), str) and cookie["Value"]:
        cookie_value = cookie["Value"]
    host = value.get("Host") if isinstance(value.get("Host"), str) else ""
    return ServerConnection(
        scheme=scheme,
        host=host.strip(),
        port=port,
        session_cookie=cookie_value,
        stash_dir=value.get("Dir") if isinstance(value.get("Dir"), str) else None,
        plugin_dir=value.get("PluginDir") if isinstance(value.get("PluginDir"), str) else None,
    )


def write_result(output: Any = None, error: str | None = None, stream: Any = None) -> None:
    """Print the one result object Stash reads from stdout."""
    out = stream if stream is not None else sys.stdout
    payload = json.dumps({"output": output, "error": error}, ensure_ascii=True, default=str)
    out.write(payload + "\n")
    out.flush()
