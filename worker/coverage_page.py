"""Write the coverage page: `<data>/coverage/index.html` (template with its CSS and JS inlined) and
`<data>/coverage/coverage.json` (the rows), where the manifest's `ui.assets` map lets Stash serve them.

Stash serves plugin files under /plugin/<plugin id>/assets/... from `ui.assets` (URL prefix -> folder
relative to the plugin folder; stash pkg/plugin/config.go UIConfig.Assets, internal/api/routes_plugin.go),
behind its own login. The page lives in data/ because Stash's package manager deletes only the files of
the installed zip on an update and the release zip never holds data/: the page survives updates and is
never shipped. Both files are replaced atomically, so a browser never reads half a file.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any

from plex.pin import item_url

PAGE_FOLDER = "coverage"                  # under the plugin's data folder
ASSET_URL_PATH = "/coverage"              # the ui.assets key in PlexSync.yml
ASSET_DIR = "data/coverage"               # the ui.assets value (relative to the plugin folder)
DATA_FILE = "coverage.json"
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "coverage_template")
STUDIO_BARS = 25                          # studios in the chart (the largest); the rest are summed
_RK_MARK = 987654321987                   # stands for the ratingKey in the Plex Web URL pattern


def _template() -> str:
    def read(name: str) -> str:
        with open(os.path.join(TEMPLATE_DIR, name), encoding="utf-8") as fh:
            return fh.read()
    # </ inside inlined code would end the <style>/<script> element early.
    css = read("coverage.css").replace("</", "<\\/")
    js = read("coverage.js").replace("</", "<\\/")
    return read("index.html").replace("/*COVERAGE_CSS*/", css).replace("/*COVERAGE_JS*/", js)


def studio_totals(report: Any, states: tuple[tuple[str, str, str], ...]) -> list[list[Any]]:
    """[[studio, total, count per state...], ...], largest first; beyond STUDIO_BARS one "other" bar."""
    index = {key: i for i, (key, _l, _m) in enumerate(states)}
    per: dict[str, list[int]] = {}
    for row in report.rows:
        counts = per.setdefault(row.studio or "(no studio)", [0] * len(states))
        counts[index[row.state]] += 1
    ranked = sorted(per.items(), key=lambda kv: (-sum(kv[1]), kv[0].lower()))
    bars = [[name, sum(c), *c] for name, c in ranked[:STUDIO_BARS]]
    rest = ranked[STUDIO_BARS:]
    if rest:
        summed = [sum(c[i] for _n, c in rest) for i in range(len(states))]
        bars.append([f"{len(rest)} other studios", sum(summed), *summed])
    return bars


def page_data(report: Any, states: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    mid = report.machine_identifier
    return {
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime()),
        "states": [[key, label, meaning] for key, label, meaning in states],
        # The Plex Web item address, from plex.pin.item_url, with {rk} where the ratingKey goes.
        "plex_item_url": item_url(mid, _RK_MARK).replace(str(_RK_MARK), "{rk}") if mid else "",
        "plex_problem": report.plex_problem,
        "drift_checked": not report.plex_problem,
        "drifted": report.drifted,
        "studios": studio_totals(report, states),
        "columns": ["scene_id", "title", "studio", "state", "rating_key", "drift", "note"],
        "rows": [row.as_list() for row in report.rows],
    }


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_page(data_dir: str, report: Any, states: tuple[tuple[str, str, str], ...]) -> str:
    """Write the page and its data; returns the folder."""
    folder = os.path.join(data_dir, PAGE_FOLDER)
    os.makedirs(folder, exist_ok=True)
    data = json.dumps(page_data(report, states), ensure_ascii=False, separators=(",", ":"))
    _write_atomic(os.path.join(folder, DATA_FILE), data)  # data first: the page it belongs to follows
    _write_atomic(os.path.join(folder, "index.html"), _template())
    return folder
