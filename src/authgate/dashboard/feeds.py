"""Shared feeds: the dashboard of several workers or replicas, read back from a sink.

Contract: with several workers, each has its own admin listener socket on the same
port (SO_REUSEPORT), so whichever worker answers must show every worker's decisions —
and with replicas, every replica's. A `SharedFeed` does that by reading the lines a
sink already holds for all of them: the Redis stream sink (`StreamSource`: every
worker and replica) or the file sink that every worker appends to (`FileSource`).

* It runs only while someone looks: `tap()` (each dashboard request calls it) starts
  a reader thread if none runs; the thread stops `IDLE_SECONDS` after the last call,
  and the next `tap()` starts afresh. So a gateway whose dashboard is closed pays
  nothing, and an open one costs the reading worker one JSON parse per record.
* On start it backfills the last 15 minutes (`rollup.SECONDS`) — from the stream by
  entry id (ids are XADD milliseconds), from the file's last `BACKFILL_BYTES` —
  into a fresh `DashboardTap`, then follows new lines. `ready` says the backfill ended.
* Lines come as the sink wrote them: pseudonymized when that sink pseudonymizes.
* A source that fails (Redis down, file rotated away) is logged once per failure
  streak and retried every `RETRY_SECONDS`; the tap keeps what it had.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import redis

from authgate.dashboard.lines import record_from_line
from authgate.dashboard.rollup import SECONDS
from authgate.dashboard.tap import DashboardTap
from authgate.decisionlog.record import DecisionRecord

log = logging.getLogger(__name__)

IDLE_SECONDS = 120.0
RETRY_SECONDS = 1.0
FOLLOW_SECONDS = 0.5  # how long one follow() waits for new lines
BATCH = 1000  # stream entries per read
BACKFILL_BYTES = 64 * 1024 * 1024  # read in 1 MiB chunks
FOLLOW_BYTES = 4 * 1024 * 1024  # at most this much per follow(); the rest comes next
_TIMEOUT = 2.0


class LineSource(Protocol):
    def backfill(self, since: float) -> Iterator[list[str]]:
        """The lines written since `since` (epoch seconds), in batches, oldest first."""

    def follow(self) -> list[str]:
        """New lines since the last call; waits up to `FOLLOW_SECONDS` for some."""

    def close(self) -> None: ...


class StreamSource:
    """The Redis stream sink's entries (`XRANGE` to backfill, `XREAD BLOCK` to follow)."""

    def __init__(self, url: str, key: str) -> None:
        self._key = key
        self._last = "$"
        self._client = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT + FOLLOW_SECONDS, socket_connect_timeout=_TIMEOUT
        )

    def backfill(self, since: float) -> Iterator[list[str]]:
        start = f"{int(since * 1000)}-0"
        self._last = "0-0"
        while True:
            entries = _entries(self._client.xrange(self._key, min=start, max="+", count=BATCH))
            if not entries:
                return
            self._last = entries[-1][0]
            start = "(" + self._last  # exclusive: the next entry after the last one read
            yield _lines(entries)
            if len(entries) < BATCH:
                return

    def follow(self) -> list[str]:
        found = self._client.xread(
            {self._key: self._last}, count=BATCH, block=int(FOLLOW_SECONDS * 1000)
        )
        # RESP2 answers [[key, entries]], RESP3 (redis-py 8's default) {key: entries}.
        streams = list(found.values()) if isinstance(found, dict) else [s[1] for s in found or ()]
        entries = _entries(streams[0]) if streams else []
        if not entries:
            return []
        self._last = entries[-1][0]
        return _lines(entries)

    def close(self) -> None:
        self._client.close()


Entry = tuple[str, dict[bytes, bytes]]


def _entries(raw: Any) -> list[Entry]:
    """Stream entries as (id, fields), whatever the protocol version's shapes."""
    return [(_id(entry_id), dict(fields or {})) for entry_id, fields in raw or ()]


def _id(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _lines(entries: list[Entry]) -> list[str]:
    return [
        fields[b"line"].decode("utf-8", "replace") for _, fields in entries if b"line" in fields
    ]


class FileSource:
    """The file sink, tailed: reopened when logrotate moved it (inode change, shrink)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._offset = 0
        self._inode = -1

    def backfill(self, since: float) -> Iterator[list[str]]:
        stat = self._path.stat()
        self._inode = stat.st_ino
        start = max(0, stat.st_size - BACKFILL_BYTES)
        with self._path.open("rb") as file:
            file.seek(start)
            if start:
                file.readline()  # the first line is cut: skip it
            self._offset = file.tell()
            while True:
                chunk = file.readlines(1 << 20)
                if not chunk:
                    break
                self._offset = file.tell()
                lines = [line.decode("utf-8", "replace") for line in chunk if line.endswith(b"\n")]
                if chunk and not chunk[-1].endswith(b"\n"):  # written half: read it again
                    self._offset -= len(chunk[-1])
                yield lines
        del since  # the rollup drops what is older than its window itself

    def follow(self) -> list[str]:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            time.sleep(FOLLOW_SECONDS)
            return []
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._inode, self._offset = stat.st_ino, 0  # rotated: the new file from its start
        if stat.st_size == self._offset:
            time.sleep(FOLLOW_SECONDS)
            return []
        with self._path.open("rb") as file:
            file.seek(self._offset)
            data = file.read(min(stat.st_size - self._offset, FOLLOW_BYTES))
        end = data.rfind(b"\n") + 1  # a line written half waits for its end
        if not end and len(data) == FOLLOW_BYTES:
            self._offset += len(data)  # no line is this long: skip it rather than stall
            return []
        self._offset += end
        return [line.decode("utf-8", "replace") for line in data[:end].splitlines()]

    def close(self) -> None:
        pass


class SharedFeed:
    """A tap filled from a `LineSource` by a thread that runs while it is looked at."""

    def __init__(
        self,
        open_source: Callable[[], LineSource],
        *,
        recent: int,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._open = open_source
        self._recent = recent
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._touched = 0.0
        self._stop = threading.Event()
        self._tap = DashboardTap(recent=recent)
        self.ready = False

    def tap(self) -> DashboardTap:
        """The tap to read; starts (or keeps) the reader thread."""
        with self._lock:
            self._touched = self._clock()
            if self._thread is None or not self._thread.is_alive():
                self._tap = DashboardTap(recent=self._recent)
                self.ready = False
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, args=(self._tap,), name="dashboard-feed", daemon=True
                )
                self._thread.start()
            return self._tap

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=_TIMEOUT + FOLLOW_SECONDS + 1.0)

    def _idle(self) -> bool:
        with self._lock:
            return self._clock() - self._touched > IDLE_SECONDS

    def _run(self, tap: DashboardTap) -> None:
        # One source for the whole run: after a failure it goes on from where it was.
        source = self._open()
        failing = backfilled = False
        try:
            while not self._stop.is_set() and not self._idle():
                try:
                    if not backfilled:
                        for lines in source.backfill(self._wall() - SECONDS):
                            tap.absorb(_records(lines))
                        backfilled = self.ready = True
                    tap.absorb(_records(source.follow()))
                    failing = False
                except Exception as error:
                    if not failing:
                        log.warning("dashboard feed: %s: %s; retrying", type(error).__name__, error)
                    failing = True
                    self._stop.wait(RETRY_SECONDS)
        finally:
            source.close()


def _records(lines: list[str]) -> list[DecisionRecord]:
    found = [record_from_line(line) for line in lines]
    return [record for record in found if record is not None]
