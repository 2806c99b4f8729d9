"""Stash serving HTTPS with a self-signed certificate (DESIGN.md "How Stash runs us" 9): the hook and the
drain reach it over TLS without verifying the certificate, unless verify_stash_tls asks them to."""
from __future__ import annotations

from tests.worker.helpers import configure, plex_item_for, plugin_lines, update_scene


def test_hook_and_drain_work_over_https_with_a_self_signed_certificate(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=6, plex_items=8, tls=True) as sb:
        assert sb.stash.url.startswith("https://")
        update_scene(sb, 2, title="Over TLS", details="encrypted")
        assert sb.host.wait_idle(120)
        item = plex_item_for(sb, 2)
        assert item["title"] == "Over TLS" and item["summary"] == "encrypted"
        assert item["poster_sha1"]  # the cover was fetched from Stash over https too
        assert not plugin_lines(sb, "error")


def test_verify_stash_tls_refuses_the_self_signed_certificate_with_a_clear_error(tmp_path):
    from sandbox import Sandbox
    with Sandbox(str(tmp_path / "sb"), scenes=4, plex_items=6, tls=True) as sb:
        configure(sb, verify_stash_tls=True)
        update_scene(sb, 1, title="Checked")
        assert sb.host.wait_idle(120)
        warnings = plugin_lines(sb, "warning") + plugin_lines(sb, "error")
        assert any("CERTIFICATE_VERIFY_FAILED" in w or "certificate" in w.lower() for w in warnings), warnings
        assert plex_item_for(sb, 1)["title"] != "Checked"
