"""`ChangeDetector`: a new signature once, nothing while unchanged or missing."""

from __future__ import annotations

import os
from pathlib import Path

from authgate.ops.filewatch import ChangeDetector


def test_a_change_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("one")
    detector = ChangeDetector(str(path))
    assert not detector.changed()
    path.write_text("two!")
    assert detector.changed()
    assert not detector.changed()


def test_a_replaced_file_is_a_change_even_with_the_same_size_and_time(tmp_path: Path) -> None:
    path, other = tmp_path / "a.yaml", tmp_path / "b.yaml"
    path.write_text("one")
    other.write_text("two")
    stat = path.stat()
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    detector = ChangeDetector(str(path))
    os.replace(other, path)  # a new inode: what ConfigMaps and editors do
    assert detector.changed()


def test_a_missing_file_is_not_a_change(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("one")
    detector = ChangeDetector(str(path))
    path.unlink()
    assert not detector.changed()
    path.write_text("one")  # back, but a new inode
    assert detector.changed()
