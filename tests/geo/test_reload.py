"""Reload without restart: a changed file is swapped in; a bad one leaves the old serving."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from authgate.geo.databases import GeoDatabases
from tests.geo.conftest import BAD, CITY_RECORDS, LONDON_IP, build_mmdb

MOVED = {**CITY_RECORDS, "51.0.0.0/8": {"country": {"iso_code": "IE"}}}  # London IP now IE


@pytest.fixture
def geo(city_db: Path) -> GeoDatabases:
    databases = GeoDatabases({"city": city_db})
    assert databases.lookup(LONDON_IP).country == "GB"  # and now cached
    return databases


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_unchanged_file_is_not_reloaded(geo: GeoDatabases) -> None:
    assert geo.maybe_reload() == ()
    assert geo.maybe_reload() == ()


def test_a_replaced_file_is_reloaded_and_the_cache_emptied(
    geo: GeoDatabases, city_db: Path
) -> None:
    build_mmdb(city_db, MOVED)  # written aside, renamed over: a new inode
    assert geo.maybe_reload() == ("city",)
    assert geo.lookup(LONDON_IP).country == "IE"
    assert geo.maybe_reload() == ()


def test_a_file_rewritten_in_place_is_reloaded(geo: GeoDatabases, city_db: Path) -> None:
    inode = city_db.stat().st_ino
    new = build_mmdb(city_db.with_name("new.mmdb"), MOVED)
    with city_db.open("r+b") as target:  # same inode: only mtime and size tell
        target.truncate(0)
        target.write(new.read_bytes())
    os.utime(city_db, ns=(1, 1))  # an mtime unlike the old one, whatever the clock's grain
    assert city_db.stat().st_ino == inode
    assert geo.maybe_reload() == ("city",)
    assert geo.lookup(LONDON_IP).country == "IE"


def test_a_corrupt_replacement_keeps_the_previous_reader(
    geo: GeoDatabases, city_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(BAD / "libmaxminddb-metadata-marker-only.mmdb", city_db.with_name("x"))
    city_db.with_name("x").replace(city_db)
    with caplog.at_level(logging.ERROR, logger="authgate.geo.databases"):
        assert geo.maybe_reload() == ()
        assert geo.maybe_reload() == ()  # the same bad version: tried and logged once
    assert geo.lookup(LONDON_IP).country == "GB"
    errors = _errors(caplog)
    assert len(errors) == 1 and str(city_db) in errors[0]
    assert "still serving the database loaded before" in errors[0]
    build_mmdb(city_db, MOVED)  # fixed: the next check picks it up
    assert geo.maybe_reload() == ("city",)
    assert geo.lookup(LONDON_IP).country == "IE"


def test_garbage_written_in_place_cannot_touch_the_serving_reader(
    geo: GeoDatabases, city_db: Path
) -> None:
    # The reader maps a private copy: overwriting (and shrinking) the configured file
    # in place changes nothing it reads — no wrong answers, no SIGBUS.
    shutil.copy(BAD / "libmaxminddb-separator-record-max-left.mmdb", city_db)
    assert geo.lookup("51.9.9.9").country == "GB"
    assert geo.maybe_reload() == ()  # the probes refuse the new version
    assert geo.lookup("51.9.9.8").country == "GB"


def test_no_copy_is_left_behind(
    city_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    geo = GeoDatabases({"city": city_db})
    build_mmdb(city_db, MOVED)
    assert geo.maybe_reload() == ("city",)
    assert list(private.iterdir()) == []
    geo.close()


def test_a_missing_file_keeps_the_previous_reader(
    geo: GeoDatabases, city_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    city_db.unlink()
    with caplog.at_level(logging.ERROR, logger="authgate.geo.databases"):
        assert geo.maybe_reload() == ()
        assert geo.maybe_reload() == ()
    assert len(_errors(caplog)) == 1 and "the file is gone" in _errors(caplog)[0]
    assert geo.lookup(LONDON_IP).country == "GB"
    build_mmdb(city_db, MOVED)
    assert geo.maybe_reload() == ("city",)
    assert geo.lookup(LONDON_IP).country == "IE"


def test_the_same_file_back_after_a_gap_is_no_reload(geo: GeoDatabases, city_db: Path) -> None:
    aside = city_db.with_name("aside.mmdb")
    city_db.rename(aside)
    assert geo.maybe_reload() == ()
    aside.rename(city_db)  # the very file the reader was opened from
    assert geo.maybe_reload() == ()


async def test_reload_changed_opens_in_a_thread(geo: GeoDatabases, city_db: Path) -> None:
    build_mmdb(city_db, MOVED)
    assert await geo.reload_changed() == ("city",)
    assert geo.lookup(LONDON_IP).country == "IE"
    assert await geo.reload_changed() == ()


async def test_watch_reloads_periodically(geo: GeoDatabases, city_db: Path) -> None:
    watcher = asyncio.create_task(geo.watch(0.01))
    try:
        build_mmdb(city_db, MOVED)
        for _ in range(200):
            if geo.lookup(LONDON_IP).country == "IE":
                break
            await asyncio.sleep(0.01)
        assert geo.lookup(LONDON_IP).country == "IE"
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher


def test_close_releases_the_readers(geo: GeoDatabases) -> None:
    geo.close()
    assert geo.slots == frozenset() and geo.lookup(LONDON_IP).country is None
