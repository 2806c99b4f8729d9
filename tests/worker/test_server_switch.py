"""plex_url pointed at another Plex server: what PlexSync learnt about the old one must not edit the new
one's unrelated items (ratingKeys are small sequential numbers on every server)."""
from __future__ import annotations

from sandbox.plex import PlexSim
from sandbox.seed import to_plex_path
from tests.worker.helpers import configure, plugin_lines, update_scene


def test_switching_plex_servers_rematches_instead_of_editing_by_old_rating_keys(sandbox):
    sb = sandbox
    update_scene(sb, 1, title="Synced on the first server")
    assert sb.host.wait_idle(120)
    old_rk = sb.world.scene_rating_keys[1][0]
    with PlexSim(token=sb.plex.token) as other:
        section = other.add_section("Scenes", ["/media/scenes"], key=sb.world.sections["Scenes"])
        unrelated = other.add_item(section, "Unrelated movie", ["/media/other/unrelated.mp4"],
                                   rating_key=old_rk)
        right = other.add_item(section, "right file", [to_plex_path(sb.world.scene_files[1])])
        configure(sb, plex_url=other.url)
        update_scene(sb, 1, title="After the move")
        assert sb.host.wait_idle(120)
        assert other.item(unrelated)["title"] == "Unrelated movie"
        assert other.item(right)["title"] == "After the move"
    assert any("different Plex server" in w for w in plugin_lines(sb, "warning"))
