"""Build the release: dist/PlexSync.zip (only what the plugin needs at run time) and dist/index.yml.

    python -m release.build [--out dist]

index.yml follows the format Stash's plugin sources use (CommunityScripts build_site.sh): id, name,
metadata.description, version (yml version + "-" + git short hash), date ("%F %T %z" of the last commit),
path, sha256, and requires from the `# requires:` comment line. Add the index.yml URL as a source in
Stash (Settings -> Plugins -> Available plugins) and Stash installs the zip, checking its sha256.

The zip must never contain data/ (Stash's package manager keeps runtime files on update only because they
are not in the zip) nor any .yml besides PlexSync.yml (Stash parses every .yml under plugins/ as a
manifest). Entries are sorted with fixed timestamps, so the same tree gives the same sha256.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_ID = "PlexSync"
TOP_FILES = (f"{PLUGIN_ID}.yml", f"{PLUGIN_ID}.py", "requirements.txt")
OPTIONAL_TOP_FILES = ("README.md",)
PACKAGES = ("hooks", "worker", "plex", "queue", "validation", "stash")
SKIP_DIRS = {"__pycache__", "data", "py_deps"}
# Python, plus the coverage page template (worker/coverage_template); anything else is not shipped.
PACKAGE_SUFFIXES = (".py", ".html", ".js", ".css")


def runtime_files(root: str = REPO_ROOT) -> list[str]:
    """Zip member names (forward slashes), sorted: the manifest, entry point, requirements, packages."""
    names = [n for n in TOP_FILES if os.path.isfile(os.path.join(root, n))]
    missing = set(TOP_FILES) - set(names)
    if missing:
        raise FileNotFoundError(f"missing from {root}: {', '.join(sorted(missing))}")
    names += [n for n in OPTIONAL_TOP_FILES if os.path.isfile(os.path.join(root, n))]
    for package in PACKAGES:
        base = os.path.join(root, package)
        if not os.path.isfile(os.path.join(base, "__init__.py")):
            raise FileNotFoundError(f"{base} is not a package")
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for filename in filenames:
                if filename.endswith(PACKAGE_SUFFIXES):
                    rel = os.path.relpath(os.path.join(dirpath, filename), root)
                    names.append(rel.replace(os.sep, "/"))
    return sorted(names)


def _git(root: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def manifest_fields(root: str = REPO_ROOT) -> dict[str, object]:
    """name, description, version and requires, read the way build_site.sh greps them."""
    with open(os.path.join(root, f"{PLUGIN_ID}.yml"), encoding="utf-8") as fh:
        text = fh.read()

    def top(key: str) -> str:
        m = re.search(rf"^{key}:[ \t]*(.*?)\r?$", text, re.MULTILINE)
        value = m.group(1).strip() if m else ""
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value

    requires: list[str] = []
    for m in re.finditer(r"^# requires:(.*?)\r?$", text, re.MULTILINE):
        requires += [d.strip() for d in m.group(1).split(",") if d.strip()]
    return {"name": top("name") or PLUGIN_ID, "description": top("description"), "version": top("version"),
            "requires": requires}


def _zip_date(root: str) -> datetime.datetime:
    stamp = _git(root, "log", "-n", "1", "--pretty=format:%ct", "--", *TOP_FILES, *PACKAGES)
    if stamp:
        return datetime.datetime.fromtimestamp(int(stamp), tz=datetime.timezone.utc)
    return datetime.datetime.now(tz=datetime.timezone.utc).replace(microsecond=0)


def build_zip(root: str, zip_path: str, when: datetime.datetime) -> list[str]:
    names = runtime_files(root)
    # Zip timestamps cannot precede 1980; local-time fields, fixed so rebuilds are byte-identical.
    stamp = max(when, datetime.datetime(1980, 1, 1, tzinfo=datetime.timezone.utc)).timetuple()[:6]
    os.makedirs(os.path.dirname(os.path.abspath(zip_path)), exist_ok=True)
    tmp = zip_path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(os.path.join(root, *name.split("/")), "rb") as fh:
                zf.writestr(info, fh.read())
    os.replace(tmp, zip_path)
    return names


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _scalar(value: str) -> str:
    # JSON strings are valid YAML double-quoted scalars; plain text stays plain, like build_site.sh's output.
    if value and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._/+\-(),]*", value) and not value.endswith(" "):
        return value
    return json.dumps(value, ensure_ascii=False)


def index_entry(fields: dict[str, object]) -> str:
    lines = [f"- id: {_scalar(str(fields['id']))}",
             f"  name: {_scalar(str(fields['name']))}",
             "  metadata:",
             f"    description: {_scalar(str(fields['description']))}",
             f"  version: {_scalar(str(fields['version']))}",
             f"  date: {_scalar(str(fields['date']))}",
             f"  path: {_scalar(str(fields['path']))}",
             f"  sha256: {fields['sha256']}"]
    requires = list(fields.get("requires") or [])
    if requires:
        lines.append("  requires:")
        lines += [f"    - {_scalar(r)}" for r in requires]
    return "\n".join(lines) + "\n"


def build(out_dir: str = os.path.join(REPO_ROOT, "dist"), root: str = REPO_ROOT) -> dict[str, object]:
    """Write <out_dir>/PlexSync.zip and <out_dir>/index.yml; returns the index entry's fields."""
    meta = manifest_fields(root)
    when = _zip_date(root)
    short = _git(root, "log", "-n", "1", "--pretty=format:%h", "--", *TOP_FILES, *PACKAGES) or "0000000"
    zip_path = os.path.join(out_dir, f"{PLUGIN_ID}.zip")
    names = build_zip(root, zip_path, when)
    fields: dict[str, object] = {
        "id": PLUGIN_ID, "name": meta["name"], "description": meta["description"],
        "version": f"{meta['version']}-{short}", "date": when.strftime("%Y-%m-%d %H:%M:%S %z"),
        "path": f"{PLUGIN_ID}.zip", "sha256": sha256_file(zip_path), "requires": meta["requires"],
        "files": names, "zip_path": zip_path,
    }
    with open(os.path.join(out_dir, "index.yml"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write(index_entry(fields))
    return fields


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m release.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "dist"), help="output folder (default dist/)")
    opts = parser.parse_args(argv)
    fields = build(opts.out)
    print(f"{fields['zip_path']}: {len(fields['files'])} files, sha256 {fields['sha256']}")
    print(f"{os.path.join(opts.out, 'index.yml')}: {fields['id']} {fields['version']} ({fields['date']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
