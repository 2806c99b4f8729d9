"""One checked GraphQL call from the worker, on stashapi's session (its URL, cookie, API key, timeouts).

stashapi's call_GQL hands back `data` even when `errors` came with it; a worker that acted on half an
answer could take a failed write for a done one, so errors raise here (the caller retries the job).
"""
from __future__ import annotations

from typing import Any

from worker.stash_reader import StashReadError


def stash_call(stash: Any, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """`data` of a GraphQL answer; StashReadError on HTTP, JSON or GraphQL errors."""
    response = stash.s.post(stash.url, json={"query": query, "variables": variables or {}})
    if response.status_code != 200:
        raise StashReadError(f"HTTP {response.status_code} from Stash")
    try:
        payload = response.json()
    except ValueError:
        raise StashReadError("Stash did not answer with JSON") from None
    if not isinstance(payload, dict):
        raise StashReadError("Stash answered with something other than a GraphQL reply")
    errors = payload.get("errors")
    if errors:
        first = errors[0].get("message") if isinstance(errors, list) and isinstance(errors[0], dict) else errors
        raise StashReadError(f"GraphQL error: {str(first)[:300]}")
    return payload.get("data") or {}
