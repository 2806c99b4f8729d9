"""The README stays true: the Quick start commands, every setting with its default, every task."""
from __future__ import annotations

import os

import yaml

from tests.conftest import REPO_ROOT
from validation.config import SPECS

README = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
SETUP = "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && "


def default_text(value: object) -> str:
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 120.0 reads as 120 in the README
    return "(empty)" if value == "" else str(value)


def test_quick_start_has_the_two_commands():
    assert SETUP + ".venv/bin/python -m sandbox demo" in README
    assert SETUP + ".venv/bin/python -m pytest tests/" in README


def test_every_setting_is_listed_with_its_default():
    for key, spec in SPECS.items():
        row = f"| `{key}` | {spec.display_name} | {spec.type} | {default_text(spec.default)} | {spec.description} |"
        assert row in README, f"README settings table is out of date; expected row:\n{row}"


def test_every_task_is_listed():
    manifest = yaml.safe_load(open(os.path.join(REPO_ROOT, "PlexSync.yml"), encoding="utf-8"))
    for task in manifest["tasks"]:
        assert f"**{task['name']}**" in README, task["name"]
