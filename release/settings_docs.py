"""Write the settings block of PlexSync.yml and the README settings table from validation/config.py SPECS.

    python -m release.settings_docs          # rewrite both in place
    python -m release.settings_docs --check  # exit 1 when either is out of date

SPECS is the one place a setting is described; this keeps the manifest Stash loads and the README a user
reads in step with it (tests/release/test_readme.py and tests/validation/test_config.py check both).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(REPO_ROOT, "PlexSync.yml")
README = os.path.join(REPO_ROOT, "README.md")
TABLE_HEADER = "| Setting (key) | Shown in Stash as | Type | Default | What it does |\n|---|---|---|---|---|\n"


def default_text(value: object) -> str:
    """How the README shows a default: on/off, 120 rather than 120.0, (empty)."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "(empty)" if value == "" else str(value)


def table_row(key: str, spec: object) -> str:
    return (f"| `{key}` | {spec.display_name} | {spec.type} | {default_text(spec.default)} | "  # type: ignore[attr-defined]
            f"{spec.description} |")  # type: ignore[attr-defined]


def manifest_block(specs: dict) -> str:
    """YAML for `settings:` (JSON strings are valid double-quoted YAML scalars)."""
    lines = ["settings:"]
    for key, spec in specs.items():
        lines += [f"  {key}:",
                  f"    displayName: {json.dumps(spec.display_name, ensure_ascii=False)}",
                  f"    description: {json.dumps(spec.description, ensure_ascii=False)}",
                  f"    type: {spec.type}"]
    return "\n".join(lines) + "\n"


def render_manifest(text: str, specs: dict) -> str:
    # `settings:` is the manifest's last section, so everything from it on is ours to write.
    start = text.index("\nsettings:\n") + 1
    return text[:start] + manifest_block(specs)


def render_readme(text: str, specs: dict) -> str:
    start = text.index(TABLE_HEADER) + len(TABLE_HEADER)
    end = text.index("\n\n", start)
    rows = "\n".join(table_row(key, spec) for key, spec in specs.items())
    return text[:start] + rows + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are in step")
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    from validation.config import SPECS  # noqa: PLC0415 - after the repo root is importable
    stale = []
    for path, render in ((MANIFEST, render_manifest), (README, render_readme)):
        with open(path, encoding="utf-8") as fh:
            current = fh.read()
        wanted = render(current, SPECS)
        if wanted != current:
            stale.append(os.path.basename(path))
            if not args.check:
                with open(path, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(wanted)
    if stale:
        print(("out of date: " if args.check else "rewrote: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
