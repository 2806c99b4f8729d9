"""The README stays true: the Quick start commands, every setting with its default, every task."""
from __future__ import annotations

import os

import yaml

from tests.conftest import REPO_ROOT
from release.settings_docs import table_row
from validation.config import SPECS

README = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
SETUP = "python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && "




def test_quick_start_has_the_two_commands():
    assert SETUP + ".venv/bin/python -m sandbox demo" in README
    assert SETUP + ".venv/bin/python -m pytest tests/" in README


def test_every_setting_is_listed_with_its_default():
    for key, spec in SPECS.items():
        row = table_row(key, spec)
        assert row in README, f"README settings table is out of date; expected row:\n{row}"


def test_every_task_is_listed():
    manifest = yaml.safe_load(open(os.path.join(REPO_ROOT, "PlexSync.yml"), encoding="utf-8"))
    for task in manifest["tasks"]:
        assert f"**{task['name']}**" in README, task["name"]
