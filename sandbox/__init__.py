"""The sandbox: a simulated Plex Media Server, a simulated Stash and its plugin host, wired and seeded.

    with Sandbox(tmp_path) as sb:
        sb.stash.gql(...); sb.plex.item(rk); sb.host.run_task("PlexSync", "Process queue")

The simulators are imported lazily so that `sandbox.host` etc. can be used on their own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from sandbox.install import PLUGIN_ID, REPO_ROOT, install_plugin
from sandbox.seed import PATH_MAP, SeedWorld, seed_world

if TYPE_CHECKING:
    from sandbox.host import PluginHost
    from sandbox.plex import PlexSim
    from sandbox.stash import StashSim

__all__ = ["Sandbox", "install_plugin", "SeedWorld", "PLUGIN_ID"]

PLEX_TOKEN = "sandbox-plex-token"
STASH_USERNAME = "sandbox"
STASH_PASSWORD = "sandbox-password"
STASH_API_KEY = "sandbox-api-key"


class Sandbox:
    """Starts PlexSim + StashSim + PluginHost under `root`, seeds them and installs the plugin.

    Layout: <root>/stash (Stash's Dir and the plugins' working directory), <root>/plugins (plugins path),
    <root>/plugins/PlexSync (the installed plugin), <root>/plugins/PlexSync/data (its data folder).
    """

    def __init__(self, root: str, scenes: int = 20, plex_items: int = 40, latency_ms: float = 0,
                 auth: bool = False, install_plugin: bool = True, seed: int = 1,
                 plugin_src: str = REPO_ROOT, stash_port: int = 0, plex_port: int = 0,
                 tls: bool = False) -> None:
        self.root = os.path.abspath(str(root))
        self.tls = tls  # Stash serves HTTPS with a self-signed certificate
        self.scenes, self.plex_items, self.latency_ms = scenes, plex_items, latency_ms
        self.auth, self.seed = auth, seed
        self.install, self.plugin_src = install_plugin, plugin_src
        self.stash_port, self.plex_port = stash_port, plex_port
        self.stash_dir = os.path.join(self.root, "stash")
        self.plugins_dir = os.path.join(self.root, "plugins")
        self.plugin_dir = os.path.join(self.plugins_dir, PLUGIN_ID)
        self.plex: PlexSim | None = None
        self.stash: StashSim | None = None
        self.host: PluginHost | None = None
        self.world: SeedWorld | None = None
        self.plugin_installed = False
        self.info: dict[str, Any] = {}

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "Sandbox":
        from sandbox.host import PluginHost
        from sandbox.plex import PlexSim
        from sandbox.stash import StashSim

        os.makedirs(self.stash_dir, exist_ok=True)
        os.makedirs(self.plugins_dir, exist_ok=True)
        try:
            self.host = PluginHost(self.plugins_dir, self.stash_dir)
            creds = dict(username=STASH_USERNAME, password=STASH_PASSWORD, api_key=STASH_API_KEY) if self.auth else {}
            self.stash = StashSim(host=self.host, config_dir=self.stash_dir, plugins_path=self.plugins_dir,
                                  tls=self.tls, **creds)
            self.host.attach(self.stash)
            self.stash.start(self.stash_port)
            self.plex = PlexSim(token=PLEX_TOKEN)
            self.plex.start(self.plex_port)
            self.world = seed_world(self.stash, self.plex, self.scenes, self.plex_items, self.seed)
            if self.latency_ms:
                self.plex.set_latency(self.latency_ms)
            self.stash.set_plugin_config(PLUGIN_ID, {"plex_url": self.plex.url, "plex_token": self.plex.token,
                                                     "path_map": PATH_MAP})
            if self.install:
                self.install_plugin(self.plugin_src)
            self.host.load_plugins()
        except BaseException:
            self.stop()
            raise
        self.info = self._info()
        return self

    def stop(self) -> None:
        """Kill plugin processes and stop both servers; safe to call twice."""
        if self.host is not None:
            self.host.close()
        for server in (self.stash, self.plex):
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    pass

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- plugin -------------------------------------------------------------------------------------
    def install_plugin(self, src: str = REPO_ROOT) -> bool:
        """Install (or upgrade, keeping data/) the plugin from a checkout or a release zip and reload the
        host's plugins. False if the source has no PlexSync.yml yet."""
        try:
            install_plugin(src, self.plugins_dir, PLUGIN_ID)
        except FileNotFoundError:
            return False
        self.plugin_installed = True
        if self.host is not None:
            self.host.load_plugins()
        if self.info:
            self.info = self._info()
        return True

    def _info(self) -> dict[str, Any]:
        info = {
            "stash_url": self.stash.url,
            "plex_url": self.plex.url,
            "plex_token": self.plex.token,
            "plugin_dir": self.plugin_dir,
            "data_dir": os.path.join(self.plugin_dir, "data"),
            "path_map": PATH_MAP,
            "plugin_id": PLUGIN_ID,
            "plugin_installed": self.plugin_installed,
            "stash_dir": self.stash_dir,
            "plugins_dir": self.plugins_dir,
            "auth": self.auth,
        }
        if self.auth:
            info.update(stash_username=STASH_USERNAME, stash_password=STASH_PASSWORD, stash_api_key=STASH_API_KEY)
        return info
