"""`authgate --version` prints the installed version, through both ways of running it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def commands() -> dict[str, list[str]]:
    found = {"python -m authgate": [sys.executable, "-m", "authgate"]}
    script = Path(sys.executable).with_name("authgate")  # the console script in the venv
    found["console script"] = [str(script if script.exists() else shutil.which("authgate"))]
    return found


@pytest.mark.parametrize("command", commands().values(), ids=commands().keys())
def test_version_names_the_package_version(command: list[str]) -> None:
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"authgate {version('authgate')}\n"


def test_the_installed_version_is_the_project_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert version("authgate") == project["version"]
