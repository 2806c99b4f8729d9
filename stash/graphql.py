"""A small standard-library GraphQL client for the Stash that started the plugin.

The hook uses it (importing requests or stashapi would cost more than the whole hook budget); tasks use
it for settings and job control. It sends the session cookie Stash gave us, so Stash's hook-loop guard
keeps working, and it does not verify Stash's certificate unless asked: we only ever talk to the Stash
that started us, on the host it named, and self-signed certificates are common.

One POST over http.client, imported on the first request (most hooks of a burst never reach the
network: settings and the drain request come from the queue database), and `ssl` only for an https
Stash. urllib.request would load ssl and more on every hook.
"""
from __future__ import annotations

from stash.protocol import ServerConnection

TYPE_CHECKING = False  # typing costs the hook ~3 ms; annotations are never evaluated (see __future__)
if TYPE_CHECKING:
    from typing import Any

PLUGIN_ID = "PlexSync"
PROCESS_QUEUE_TASK = "Process queue"
# Stash's job states that mean "will still run" (graphql/schema/types/job.graphql).
ACTIVE_JOB_STATES = frozenset({"READY", "RUNNING", "STOPPING"})
GRAPHQL_PATH = "/graphql"


class StashError(RuntimeError):
    """Stash could not be reached or answered with an error. The text never holds a credential."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StashClient:
    def __init__(
        self,
        connection: ServerConnection,
        *,
        timeout: float = 10.0,
        verify_tls: bool = False,
        api_key: str | None = None,
    ) -> None:
        self.connection = connection
        self.url = connection.graphql_url
        self.timeout = timeout
        self.verify_tls = verify_tls
        self._api_key = api_key
        self._ssl = None  # ssl.SSLContext, made on the first https request

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.connection.session_cookie:
            headers["Cookie"] = f"session={self.connection.session_cookie}"
        if self._api_key:
            headers["ApiKey"] = self._api_key
        return headers

    def _open(self):  # noqa: ANN202 - an http.client connection, not yet connected
        import http.client  # noqa: PLC0415 - see the module docstring

        host, port = self.connection.dial_host, self.connection.port
        if self.connection.scheme != "https":
            return http.client.HTTPConnection(host, port, timeout=self.timeout)
        if self._ssl is None:
            import ssl  # noqa: PLC0415 - only an https Stash pays for it
            context = ssl.create_default_context()
            if not self.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        import json  # noqa: PLC0415 - most hooks never reach Stash (see stash/fastjson.py)

        body = json.dumps({"query": query, "variables": variables or {}}).encode("utf-8")
        try:
            conn = self._open()
            try:
                conn.request("POST", GRAPHQL_PATH, body=body, headers=self.headers())
                response = conn.getresponse()
                status, raw = response.status, response.read()
            finally:
                conn.close()
        except (OSError, TimeoutError, ValueError) as exc:
            # OSError covers refused/reset connections, TLS failures (ssl.SSLError) and timeouts;
            # http.client.HTTPException is not an OSError: caught below by name to keep the import lazy.
            raise StashError(f"cannot reach Stash at {self.url}: {exc}") from None
        except Exception as exc:  # noqa: BLE001
            import http.client  # noqa: PLC0415 - already loaded by _open

            if not isinstance(exc, http.client.HTTPException):
                raise
            raise StashError(f"cannot reach Stash at {self.url}: {type(exc).__name__}: {exc}") from None
        if status >= 300:
            hint = " (authentication failed: is the session cookie or API key valid?)" if status == 401 else ""
            raise StashError(f"Stash answered HTTP {status} at {self.url}{hint}", status=status)
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise StashError(f"Stash at {self.url} did not answer with JSON") from None
        if not isinstance(payload, dict):
            raise StashError("Stash answered with an unexpected JSON shape")
        errors = payload.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) else errors
            message = first.get("message") if isinstance(first, dict) else first
            raise StashError(f"Stash GraphQL error: {str(message)[:300]}")
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    # --- the few operations PlexSync needs outside the worker ---

    def plugin_settings(self, plugin_id: str = PLUGIN_ID) -> dict[str, Any]:
        """The plugin's saved settings; unset keys are simply absent (Stash has no defaults)."""
        data = self.execute(
            "query PlexSyncSettings($ids: [ID!]) { configuration { plugins(include: $ids) } }",
            {"ids": [plugin_id]},
        )
        plugins = (data.get("configuration") or {}).get("plugins") or {}
        values = plugins.get(plugin_id) if isinstance(plugins, dict) else None
        return values if isinstance(values, dict) else {}

    def run_plugin_task(self, task_name: str, args_map: dict[str, Any], plugin_id: str = PLUGIN_ID) -> str:
        data = self.execute(
            "mutation PlexSyncRunTask($plugin: ID!, $task: String!, $args: Map) "
            "{ runPluginTask(plugin_id: $plugin, task_name: $task, args_map: $args) }",
            {"plugin": plugin_id, "task": task_name, "args": args_map},
        )
        return str(data.get("runPluginTask") or "")

    def find_job(self, job_id: str) -> dict[str, Any] | None:
        data = self.execute(
            "query PlexSyncFindJob($id: ID!) { findJob(input: {id: $id}) { id status progress description } }",
            {"id": job_id},
        )
        job = data.get("findJob")
        return job if isinstance(job, dict) else None

    def job_queue(self) -> list[dict[str, Any]]:
        """Stash's jobs not finished yet (the running one first), as its `jobQueue` query lists them."""
        data = self.execute("query PlexSyncJobQueue { jobQueue { id status description } }")
        jobs = data.get("jobQueue")
        return [j for j in jobs if isinstance(j, dict)] if isinstance(jobs, list) else []
