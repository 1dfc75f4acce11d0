"""What `bench/soak.py` samples of the gateway while the load runs, and the slope of it.

Contract: `Watch(pid, decisions, tally)` samples, on a thread of its own every
`every` seconds from `start()` to `stop()`: the gateway's RSS (its process and
children, `_servers.rss_mb`), open fds, CPU seconds, TCP connections (all, ESTABLISHED,
CLOSE_WAIT: a CLOSE_WAIT that stays is a socket the gateway forgot to close), the
decision-log records written so far (`DecisionTally`, read incrementally from the
file), and the p50/p99 of the small GETs answered since the last sample, as the
client saw them (write to last byte) and as the gateway's records time them (is it
still holding the rate, or queueing?). `snapshot(pid)` is one
such reading without the thread. `slope_mb_per_min(samples, skip)` is the
least-squares slope of RSS over the samples after the first `skip` fraction of
the run (the warm-up: allocator arenas, caches and pools fill there).
"""

from __future__ import annotations

import collections
import contextlib
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from _servers import gateway_processes, rss_mb
from _soakload import MIX, Tally

SMALL_PATH = MIX[0].path


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the watch started
    rss_mb: float
    fds: int
    tcp: int
    established: int
    close_wait: int
    records: int
    cpu_s: float  # the gateway's user+system CPU seconds so far
    p50_ms: float = float("nan")  # the client's, write to last byte
    p99_ms: float = float("nan")
    gw_p50_ms: float = float("nan")  # the gateway's own `durations.total_ms`
    gw_p99_ms: float = float("nan")


@dataclass
class DecisionTally:
    """The decision log's records, counted as they are appended."""

    path: Path
    records: int = 0
    by_decision: collections.Counter[tuple[str, str, int]] = field(
        default_factory=collections.Counter
    )
    request_ids: set[str] = field(default_factory=set)
    keep_ids: bool = False
    small_ms: list[float] = field(default_factory=list)  # gateway total_ms of small GETs
    _offset: int = 0
    _partial: bytes = b""

    def read(self) -> int:
        if not self.path.exists():
            return self.records
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = self._partial + handle.read()
            self._offset = handle.tell()
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            if line.strip():
                self._count(json.loads(line))
        return self.records

    def _count(self, record: dict[str, object]) -> None:
        self.records += 1
        status = record.get("status")
        self.by_decision[str(record.get("decision")), str(record.get("reason")),
                        status if isinstance(status, int) else -1] += 1
        if self.keep_ids:
            self.request_ids.add(str(record.get("request_id")))
        durations = record.get("durations")
        if record.get("path") == SMALL_PATH and isinstance(durations, dict):
            self.small_ms.append(float(durations.get("total_ms") or 0.0))

    def take_small_ms(self) -> list[float]:
        taken, self.small_ms = self.small_ms, []
        return taken


def snapshot(pid: int, decisions: DecisionTally, started: float,
             latencies: list[float] | None = None) -> Sample:
    fds = tcp = established = close_wait = 0
    cpu = 0.0
    for process in gateway_processes(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            fds += process.num_fds()
            times = process.cpu_times()
            cpu += times.user + times.system
            for conn in process.net_connections(kind="tcp"):
                tcp += 1
                established += conn.status == psutil.CONN_ESTABLISHED
                close_wait += conn.status == psutil.CONN_CLOSE_WAIT
    records = decisions.read()
    p50, p99 = percentiles([x * 1e3 for x in latencies or []])
    gw50, gw99 = percentiles(decisions.take_small_ms())
    return Sample(round(time.monotonic() - started, 1), rss_mb(pid)["total"], fds, tcp,
                  established, close_wait, records, cpu, p50, p99, gw50, gw99)


def percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[98]


class Watch:
    def __init__(self, pid: int, decisions: DecisionTally, tally: Tally,
                 every: float = 10.0) -> None:
        self.pid, self.decisions, self.tally, self.every = pid, decisions, tally, every
        self.samples: list[Sample] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-watch", daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self.tally.take_latencies()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(
                snapshot(self.pid, self.decisions, self.started, self.tally.take_latencies())
            )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def slope_mb_per_min(samples: list[Sample], skip: float = 0.2) -> float:
    """RSS slope over the samples after the first `skip` of the run, in MB/min."""
    if not samples:
        return float("nan")
    start = samples[-1].at * skip
    kept = [s for s in samples if s.at >= start]
    if len(kept) < 2:
        return float("nan")
    slope, _ = statistics.linear_regression([s.at for s in kept], [s.rss_mb for s in kept])
    return slope * 60.0
