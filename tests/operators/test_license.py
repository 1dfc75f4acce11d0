"""The LICENSE file is the one pyproject.toml declares: the Apache License 2.0, whole."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# MD5 of https://www.apache.org/licenses/LICENSE-2.0.txt, the text as the ASF publishes it.
APACHE_2_MD5 = "86d3f3a95c324c9479bd8986968f4327"


def test_license_file_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "Apache License"
    assert lines[1] == "Version 2.0, January 2004"
    assert "END OF TERMS AND CONDITIONS" in lines
    assert hashlib.md5(text.encode(), usedforsecurity=False).hexdigest() == APACHE_2_MD5  # unabridged, unaltered


def test_pyproject_declares_the_same_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert all((ROOT / name).is_file() for name in project["license-files"])
