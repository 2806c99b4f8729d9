"""Read the proxy and CA-bundle environment once per session instead of once per request.

requests looks at the environment (HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, .netrc) on every request
of a session whose `trust_env` is on: about 1.7 ms of CPU per request in a drain profile, more than the
rest of the request's client side. A drain talks to one Plex and one Stash, each at one address, so the
answer never changes within a run: resolve it once for that address and switch the per-request lookup off.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import requests


def settle_environment(session: requests.Session, url: str) -> None:
    """Give `session` the proxies and CA bundle the environment names for `url`, then stop re-reading it."""
    from requests.utils import get_environ_proxies  # noqa: PLC0415 - tasks only

    if not session.trust_env:
        return
    session.proxies.update(get_environ_proxies(url))
    # Only https needs a bundle; a bundle path on an http session still costs requests an os.path.isdir
    # per request (adapters._urllib3_request_context), a few percent of a drain's CPU.
    if session.verify is True and url.lower().startswith("https:"):
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    session.trust_env = False
