"""The plugin's stdin and stdout: one JSON object in, one JSON object out.

Stash writes `{"server_connection": ..., "args": ...}` to stdin and parses stdout as
`{"output": ..., "error": ...}`; anything else printed on stdout makes Stash lose our error.
"""
from __future__ import annotations

import sys

from stash import fastjson

TYPE_CHECKING = False  # typing costs the hook ~3 ms; annotations are never evaluated (see __future__)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

# Hosts that mean "every interface of this machine": the plugin must dial loopback instead.
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


class InputError(ValueError):
    """stdin is not a usable plugin invocation; the message is shown to the user as is."""


class ServerConnection:
    """Where the Stash that started us listens, and the session cookie it gave us. Read-only.

    A plain class with slots (no dataclass): the hook process cannot afford importing dataclasses."""

    __slots__ = ("scheme", "host", "port", "session_cookie", "stash_dir", "plugin_dir")

    def __init__(self, scheme: str, host: str, port: int, session_cookie: str | None, stash_dir: str | None,
                 plugin_dir: str | None) -> None:
        for name, value in (("scheme", scheme), ("host", host), ("port", port), ("session_cookie", session_cookie),
                            ("stash_dir", stash_dir), ("plugin_dir", plugin_dir)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ServerConnection is read-only ({name})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerConnection) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        # No session cookie in a repr: it is a credential.
        return (f"ServerConnection(scheme={self.scheme!r}, host={self.host!r}, port={self.port!r}, "
                f"stash_dir={self.stash_dir!r}, plugin_dir={self.plugin_dir!r})")

    @property
    def dial_host(self) -> str:
        """The host to connect to (a wildcard listen address means this machine)."""
        return "127.0.0.1" if self.host in _WILDCARD_HOSTS else self.host.strip("[]")

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


class Invocation:
    """One run of the plugin: the connection and the args Stash sent."""

    __slots__ = ("connection", "args")

    def __init__(self, connection: ServerConnection, args: dict[str, Any]) -> None:
        self.connection = connection
        self.args = args

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
        data = fastjson.loads(text)
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
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
    payload = fastjson.dumps_result(output, error)
    out.write(payload + "\n")
    out.flush()
