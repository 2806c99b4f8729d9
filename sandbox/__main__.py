"""Command line: `python -m sandbox up --dir DIR ...` and `python -m sandbox demo ...`.

`up` prints exactly one line `READY <json>` on stdout once everything serves, copies the host's log
viewer to stderr, and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="PlexSync sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start simulated Plex + Stash, seeded, with the plugin installed")
    up.add_argument("--dir", required=True, help="working folder (Stash dir, plugins folder)")
    up.add_argument("--scenes", type=int, default=20, help="Stash scenes to seed (default 20)")
    up.add_argument("--plex-items", type=int, default=40, help="Plex items in total (default 40)")
    up.add_argument("--latency-ms", type=float, default=0, help="added latency per Plex request")
    up.add_argument("--auth", action="store_true", help="Stash requires a session cookie or ApiKey")
    up.add_argument("--tls", action="store_true", help="Stash serves HTTPS (self-signed certificate)")
    up.add_argument("--seed", type=int, default=1, help="seed of the generated world (default 1)")
    up.add_argument("--stash-port", type=int, default=0, help="default: a free port")
    up.add_argument("--plex-port", type=int, default=0, help="default: a free port")
    up.add_argument("--no-plugin", action="store_true", help="do not install the plugin")
    up.add_argument("--quiet", action="store_true", help="do not copy the host log to stderr")
    demo = sub.add_parser("demo", help="run the scripted demo (sandbox/demo.py)", add_help=False)
    demo.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _echo_log(host, stop: threading.Event) -> None:
    """Copy new log-viewer lines to stderr (the demo's window into Stash's log page)."""
    index = 0
    while not stop.is_set():
        if host.wait_for_log(lambda _e: True, timeout=0.5, start=index) is None:
            continue
        entries = host.log_snapshot()
        for level, text in entries[index:]:
            print(f"{level.upper():7} {text}", file=sys.stderr, flush=True)
        index = len(entries)


def cmd_up(opts: argparse.Namespace) -> int:
    from sandbox import Sandbox

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sb = Sandbox(opts.dir, scenes=opts.scenes, plex_items=opts.plex_items, latency_ms=opts.latency_ms,
                 auth=opts.auth, install_plugin=not opts.no_plugin, seed=opts.seed,
                 stash_port=opts.stash_port, plex_port=opts.plex_port, tls=opts.tls)
    sb.start()
    try:
        if not opts.quiet:
            threading.Thread(target=_echo_log, args=(sb.host, stop), daemon=True).start()
        print("READY " + json.dumps(sb.info), flush=True)
        while not stop.wait(0.5):       # bounded waits keep signal handling responsive
            pass
    finally:
        stop.set()
        sb.stop()
    return 0


def cmd_demo(opts: argparse.Namespace) -> int:
    from sandbox import demo  # imported on use: `up` does not need it
    return int(demo.main(opts.args) or 0)


def main(argv: list[str] | None = None) -> int:
    # parse_known_args: the demo's own options (e.g. --dir) go to sandbox.demo, whatever their position.
    opts, extra = _parser().parse_known_args(argv)
    if opts.command == "up":
        if extra:
            _parser().error(f"unrecognized arguments: {' '.join(extra)}")
        return cmd_up(opts)
    opts.args = list(extra) + list(opts.args)
    return cmd_demo(opts)


if __name__ == "__main__":
    sys.exit(main())
