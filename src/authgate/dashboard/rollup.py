"""Rolling aggregates of decision records: what the dashboard's charts and tables show.

Contract: `Rollup.add(record)` counts one `DecisionRecord` into two rings, in O(1)
(a fixed number of dict and list updates per record, whatever the traffic):

* per second, for the last `SECONDS` (15 minutes): decisions by outcome, and the
  limit events — rate-limit refusals (`rate-limited`), bans (`login-banned`) and
  sheds (`upstream-overloaded`, `connections-exceeded`);
* per minute, for the last `MINUTES`: top deny and error reasons (each code of a
  record counted, so a table may add up to more than the decisions), top routes, top
  users and client IPs refused (decision `deny` or `rate_limited`), top countries,
  the risk-score distribution (ten-point bands), the signals that fired, and per
  route the gateway-added and upstream latency as log-spaced histograms.

`series(now)` and `summary(now)` read them back over the window ending at `now`.
Bounds: each per-minute table holds at most `TOP_KEYS` distinct keys; the rest count
under `OTHER` (a heavy hitter is seen early in its minute, so it keeps its own row;
a flood of one-off keys lands in `OTHER` instead of growing memory). Percentiles are
read from histogram buckets `RATIO` (~19 %) apart: each is reported as its bucket's
upper bound, so it is never below the true value and at most 19 % above it.
A record 15 minutes older than the newest one seen is not counted (its slot is
gone). Times are the gateway's own wall clock at each request's arrival. Not thread-safe: `tap.DashboardTap` holds the lock.
Pure module.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field

from authgate.decision import Outcome, Reason
from authgate.decisionlog.record import DecisionRecord

SECONDS = 900  # the live chart: 15 minutes, one point a second
MINUTES = 16  # 15 whole minutes plus the current one
TOP_KEYS = 512  # distinct keys per table and minute; more count under OTHER
TOP_N = 10  # rows per top table in `summary`
OTHER = "(other)"
OUTCOMES = tuple(Outcome)  # column order of the per-second counts
_OUTCOME_INDEX = {outcome: index for index, outcome in enumerate(OUTCOMES)}
LIMIT_EVENTS = ("limit_refusals", "bans", "sheds")  # not outcome names: one namespace
_LIMIT_INDEX = {
    Reason.RATE_LIMITED.value: 0,
    Reason.LOGIN_BANNED.value: 1,
    Reason.UPSTREAM_OVERLOADED.value: 2,
    Reason.CONNECTIONS_EXCEEDED.value: 2,
}
_REFUSED = frozenset({Outcome.DENY, Outcome.RATE_LIMITED})

# Latency buckets: upper bounds from 50 µs, each RATIO above the last, up to ~2 min.
RATIO = 1.19
FIRST_BOUND = 0.00005
BOUNDS = tuple(FIRST_BOUND * RATIO**i for i in range(int(math.log(2400000) / math.log(RATIO)) + 1))
PERCENTILES = (50, 90, 99)
RISK_BANDS = 10  # 0-9, 10-19, ... 90-100


_LAST = len(BOUNDS) - 1


def bucket_of(seconds: float) -> int:
    """The index of the first bound >= `seconds` (the last bucket takes the rest).
    bisect, in C: a third of the cost of the logarithm it replaces, per record."""
    index = bisect_left(BOUNDS, seconds)
    return index if index < _LAST else _LAST


def percentile(counts: list[int], p: float) -> float | None:
    """The `p`-th percentile's bucket bound (seconds); None with no observation."""
    total = sum(counts)
    if not total:
        return None
    rank = math.ceil(total * p / 100)
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return BOUNDS[index]
    return BOUNDS[-1]


def _count(table: dict[str, int], key: str) -> None:
    if key in table or len(table) < TOP_KEYS:
        table[key] = table.get(key, 0) + 1
    else:
        table[OTHER] = table.get(OTHER, 0) + 1


@dataclass(slots=True)
class Latency:
    """One route's gateway-added and upstream latencies in one minute."""

    gateway: list[int] = field(default_factory=lambda: [0] * len(BOUNDS))
    upstream: list[int] = field(default_factory=lambda: [0] * len(BOUNDS))


@dataclass(slots=True)
class Minute:
    """Everything the top tables need, for one minute."""

    minute: int = -1
    deny_reasons: dict[str, int] = field(default_factory=dict)
    error_reasons: dict[str, int] = field(default_factory=dict)
    routes: dict[str, int] = field(default_factory=dict)
    refused_users: dict[str, int] = field(default_factory=dict)
    refused_ips: dict[str, int] = field(default_factory=dict)
    countries: dict[str, int] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)
    risk: list[int] = field(default_factory=lambda: [0] * RISK_BANDS)
    latency: dict[str, Latency] = field(default_factory=dict)

    def add(self, record: DecisionRecord) -> None:
        outcome = record.decision
        route = record.route or ""
        _count(self.routes, route)
        if outcome is Outcome.DENY or outcome is Outcome.ERROR:
            table = self.deny_reasons if outcome is Outcome.DENY else self.error_reasons
            # Each code on its own (the record joins several with commas): the table
            # reads in the reasons' closed vocabulary, not in their combinations.
            for reason in record.reason.split(","):
                _count(table, reason)
        if outcome in _REFUSED:
            if record.user is not None:
                _count(self.refused_users, record.user)
            _count(self.refused_ips, record.client_ip)
        if record.country is not None:
            _count(self.countries, record.country)
        for signal in record.signals:
            _count(self.signals, signal)
        if record.risk is not None:
            self.risk[min(max(record.risk, 0) // 10, RISK_BANDS - 1)] += 1
        self._latency(route, record.durations)

    def _latency(self, route: str, durations: tuple[tuple[str, float], ...]) -> None:
        total = upstream = None
        for stage, seconds in durations:
            if stage == "total":
                total = seconds
            elif stage == "upstream":
                upstream = seconds
        if total is None:
            return
        latency = self.latency.get(route)
        if latency is None:
            if len(self.latency) >= TOP_KEYS:
                return  # route ids come from the config: this bound is never met
            latency = self.latency[route] = Latency()
        # What the gateway added: total minus the upstream's own time (ops/metrics.py);
        # below 0 (two clocks) lands in the first bucket like any tiny value.
        if upstream is None:
            latency.gateway[bucket_of(total)] += 1
        else:
            latency.gateway[bucket_of(total - upstream)] += 1
            latency.upstream[bucket_of(upstream)] += 1


COLUMNS = (*(o.value for o in OUTCOMES), *LIMIT_EVENTS)  # the per-second series


class Rollup:
    """The two rings: per second (outcomes, limit events) and per minute (tables)."""

    def __init__(self) -> None:
        self._second = [-1] * SECONDS
        # Column-wise, one list per series indexed by slot: a window is then a rotation
        # (slicing, in C) and a mask of the slots that belong to it, not a Python loop
        # over 900 seconds × 9 series (4.5 ms a tick; this is 0.6 ms).
        self._columns = {name: [0] * SECONDS for name in COLUMNS}
        self._outcome_columns = [self._columns[o.value] for o in OUTCOMES]
        self._limit_columns = [self._columns[name] for name in LIMIT_EVENTS]
        self._minutes = [Minute() for _ in range(MINUTES)]
        self.latest = -1  # the newest second seen; the window ends there or at `now`

    def add(self, record: DecisionRecord) -> None:
        second = int(record.time)
        if second <= self.latest - SECONDS:
            return  # older than the window of the newest record: nothing shows it
        if second > self.latest:
            self.latest = second
        slot = second % SECONDS
        if self._second[slot] != second:
            self._second[slot] = second
            for column in self._columns.values():
                column[slot] = 0
        self._outcome_columns[_OUTCOME_INDEX[record.decision]][slot] += 1
        limit = _LIMIT_INDEX.get(record.reason)
        if limit is not None:
            self._limit_columns[limit][slot] += 1
        minute = second // 60
        bucket = self._minutes[minute % MINUTES]
        if bucket.minute != minute:
            bucket = self._minutes[minute % MINUTES] = Minute(minute)
        bucket.add(record)

    def series(self, now: float, span: int = SECONDS) -> dict[str, list[int]]:
        """Per second over the `span` seconds (at most 15 minutes) ending at `now`:
        `time` (epoch seconds), one list per outcome and per limit event, aligned."""
        span = min(span, SECONDS)
        end = int(now)
        first = end - span + 1
        start = first % SECONDS

        def window(values: list[int]) -> list[int]:
            return (values[start:] + values[:start])[:span]  # the slots, in time order

        seconds = list(range(first, end + 1))
        live = [a == b for a, b in zip(window(self._second), seconds, strict=True)]
        columns: dict[str, list[int]] = {"time": seconds}
        for name, values in self._columns.items():
            columns[name] = [v if ok else 0 for v, ok in zip(window(values), live, strict=True)]
        return columns

    def summary(self, now: float) -> dict[str, object]:
        """The top tables, risk bands, signals, latency percentiles and totals over the
        15 minutes ending at `now`."""
        minutes = self._window(int(now) // 60)
        series = self.series(now)
        return {
            "totals": {name: sum(values) for name, values in series.items() if name != "time"},
            "top": {
                name: _top(getattr(m, name) for m in minutes)
                for name in (
                    "deny_reasons", "error_reasons", "routes", "refused_users",
                    "refused_ips", "countries",
                )
            },
            "signals": _top((m.signals for m in minutes), n=TOP_KEYS),
            "risk": _sum_lists((m.risk for m in minutes), RISK_BANDS),
            "latency": _latencies(minutes),
        }

    def _window(self, minute: int) -> list[Minute]:
        first = minute - (MINUTES - 2)  # 15 minutes: 14 whole ones and the current
        return [m for m in self._minutes if first <= m.minute <= minute]


def _top(tables: Iterable[dict[str, int]], n: int = TOP_N) -> list[list[object]]:
    merged: dict[str, int] = {}
    for table in tables:
        for key, count in table.items():
            merged[key] = merged.get(key, 0) + count
    best = heapq.nlargest(n, merged.items(), key=lambda item: (item[1], item[0]))
    return [[key, count] for key, count in best]


def _sum_lists(lists: Iterable[list[int]], size: int) -> list[int]:
    total = [0] * size
    for values in lists:
        for index, value in enumerate(values):
            total[index] += value
    return total


def _latencies(minutes: list[Minute]) -> dict[str, dict[str, object]]:
    routes = sorted({route for m in minutes for route in m.latency})
    found: dict[str, dict[str, object]] = {}
    for route in routes:
        per = [m.latency[route] for m in minutes if route in m.latency]
        gateway = _sum_lists((lat.gateway for lat in per), len(BOUNDS))
        upstream = _sum_lists((lat.upstream for lat in per), len(BOUNDS))
        found[route] = {
            "count": sum(gateway),
            "gateway_ms": _percentiles_ms(gateway),
            "upstream_ms": _percentiles_ms(upstream),
        }
    return found


def _percentiles_ms(counts: list[int]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for p in PERCENTILES:
        value = percentile(counts, p)
        found[f"p{p}"] = None if value is None else round(value * 1000, 3)
    return found
