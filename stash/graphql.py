"""A small standard-library GraphQL client for the Stash that started the plugin.

The hook uses it (importing requests or stashapi would cost more than the whole hook budget); tasks use
it for settings and job control. It sends the session cookie Stash gave us, so Stash's hook-loop guard
keeps working, and it does not verify Stash's certificate unless asked: we only ever talk to the Stash
that started us, on the host it named, and self-signed certificates are common.
"""
from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from stash.protocol import ServerConnection

PLUGIN_ID = "PlexSync"
PROCESS_QUEUE_TASK = "Process queue"
# Stash's job states that mean "will still run" (graphql/schema/types/job.graphql).
ACTIVE_JOB_STATES = frozenset({"READY", "RUNNING", "STOPPING"})


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
        self._api_key = api_key
        self._ssl: ssl.SSLContext | None = None
        if connection.scheme == "https":
            self._ssl = ssl.create_default_context()
            if not verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.connection.session_cookie:
            headers["Cookie"] = f"session={self.connection.session_cookie}"
        if self._api_key:
            headers["ApiKey"] = self._api_key
        return headers

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, headers=self.headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            hint = " (authentication failed: is the session cookie or API key valid?)" if exc.code == 401 else ""
            raise StashError(f"Stash answered HTTP {exc.code} at {self.url}{hint}", status=exc.code) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StashError(f"cannot reach Stash at {self.url}: {reason}") from None
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
