"""Prometheus metrics, counted off the decision record of each request.

Contract:

* `Metrics.observe(record)` runs once per request, on the event loop thread, with the
  record the decision log gets. It only adds to plain Python counters (about 1 µs);
  `flush()` moves what accumulated into the prometheus-client metrics. Going through
  prometheus-client on every request cost 5 µs (a lock per increment, a Python loop
  per histogram) and 11 µs in multiprocess mode (a file write per increment) — a
  real share of the few hundred µs a proxied request costs. `flush()` runs every
  second (`ops.admin.sampling`) and before each scrape, so a scrape is at most one
  second behind for the workers that did not answer it.
* Re-evaluations of sessions and connections (`continuous.tally`) are counted where
  they happen and moved into `authgate_reevaluations_total` by `flush()` too.
* Values that are states, not events — decision-log drops, sessions held, requests in
  flight — are pulled in by `sample()`, which flushes too.
* One process: values live in this object's own registry (plus the process
  collector: CPU, memory, open files). Several workers: build `Metrics` with
  `multiprocess_dir`; values then go to prometheus-client's per-process files there,
  and `render()`, in whichever worker answered the scrape, adds up every worker,
  living or dead, so counters never go backwards when a worker is restarted.
* Label values are bounded: route ids come from the config, decisions and reasons
  from closed enums, stages from the handler plus `gateway` (below), the status as its
  class `1xx`..`5xx` (`other` for anything outside 100..599) rather than the code, which
  an upstream may choose freely. A request that matched no route is labelled
  `route=""`.
* Per route, the duration histogram has `stage="total"`, `stage="upstream"` (the
  upstream's own time, when the request was forwarded) and `stage="gateway"`: total
  minus upstream, what the gateway itself added — the number an operator compares with
  the incumbent proxy's overhead.
"""

from __future__ import annotations

import os
from bisect import bisect_left

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from authgate.continuous import tally
from authgate.decision import Outcome, Reason
from authgate.decisionlog import DecisionRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds. From a cached decision (sub-millisecond: the gateway's own share of a proxied
# request is a few hundred µs, hence the 0.1 and 0.25 ms buckets) to a slow upstream
# (a minute). Fixed, so the series per route and stage stay bounded (19 with +Inf).
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)
_BOUNDS = (*LATENCY_BUCKETS, float("inf"))  # what prometheus-client adds as le="+Inf"
UPSTREAM_FAILURES = frozenset(
    {
        Reason.UPSTREAM_UNREACHABLE,
        Reason.UPSTREAM_TIMEOUT,
        Reason.UPSTREAM_FAILED,
        Reason.UPSTREAM_ABORTED,
    }
)

# Index: status // 100. Bounded label values; a status outside 100..599 is "other".
CODE_CLASSES = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")


def code_class(status: int) -> str:
    """`2xx` for 204: the bounded label the request counter carries instead of the code."""
    index = status // 100
    return CODE_CLASSES[index] if 0 < index < len(CODE_CLASSES) else "other"


_multiprocess_values: tuple[int, str] | None = None  # (pid, directory) set up


def _use_multiprocess_values(directory: str) -> None:
    """Make every metric built from now on in this process write to `directory`."""
    global _multiprocess_values
    if _multiprocess_values == (os.getpid(), directory):
        return  # one value class per process: two would open the same files twice
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    # prometheus-client chooses its value class once, when it is imported; a worker
    # forked from the supervisor imported it before it knew it was one of several.
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _multiprocess_values = (os.getpid(), directory)


class _Timings:
    """Observations of one (route, stage) since the last flush, bucketed."""

    __slots__ = ("child", "counts", "seen", "total")

    def __init__(self, child: Histogram) -> None:
        self.child = child
        self.counts = [0] * len(_BOUNDS)
        self.total = 0.0
        self.seen = 0

    def add(self, seconds: float) -> None:
        # bisect_left: the first bound >= seconds, as Histogram.observe picks it.
        self.counts[bisect_left(_BOUNDS, seconds)] += 1
        self.total += seconds
        self.seen += 1

    def flush(self) -> None:
        if not self.seen:
            return
        # Histogram has no "add n observations" call; its children keep one value per
        # bucket (not cumulative) and one for the sum, which is what observe() bumps.
        # tests/ops/test_metrics.py pins this against the exposition text.
        buckets = self.child._buckets
        for index, count in enumerate(self.counts):
            if count:
                buckets[index].inc(count)
                self.counts[index] = 0
        self.child._sum.inc(self.total)
        self.total = 0.0
        self.seen = 0


class Metrics:
    """The gateway's metrics and the registry they are exposed from."""

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        if multiprocess_dir is not None:
            _use_multiprocess_values(multiprocess_dir)
        self.multiprocess_dir = multiprocess_dir
        registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "authgate_requests", "Requests answered, by route, decision, reason and status class.",
            ["route", "decision", "reason", "code_class"], registry=registry,
        )
        self.durations = Histogram(
            "authgate_request_duration_seconds",
            "Time per pipeline stage (total, upstream, gateway), by route; "
            "stage=upstream is the upstream's own latency, stage=gateway what the gateway added.",
            ["route", "stage"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.signals = Counter(
            "authgate_signals",
            "Security events from Shared Signals transmitters, by provider, event type and "
            "what each did (its decision record's reason).",
            ["provider", "event", "reason"], registry=registry,
        )
        self.upstream_errors = Counter(
            "authgate_upstream_errors", "Requests whose upstream failed, by route and reason.",
            ["route", "reason"], registry=registry,
        )
        self.reevaluations = Counter(
            "authgate_reevaluations",
            "Sessions and long-lived connections re-evaluated after their login "
            "(docs/continuous.md), by kind (refresh, connection) and reason.",
            ["kind", "reason"], registry=registry,
        )
        self.reloads = Counter(
            "authgate_config_reloads", "Config reloads, by result (applied, rejected).",
            ["result"], registry=registry,
        )
        self.decision_log_dropped = Counter(
            "authgate_decision_log_dropped", "Decision records never written (queue full).",
            registry=registry,
        )
        self.in_flight = Gauge(
            "authgate_requests_in_flight", "Requests being handled now.",
            registry=registry, multiprocess_mode="livesum",
        )
        # Made at the first sample that has a count: on the Redis store there is none,
        # and a gauge that was never set would read 0, which is a lie.
        self.sessions: Gauge | None = None
        # 1 while the state-event channel receives (docs/events.md); the lowest worker's
        # in multiprocess mode, so one disconnected worker shows.
        self.events_connected = Gauge(
            "authgate_state_events_connected",
            "1 while the state-event channel is subscribed (caches are served), else 0.",
            registry=registry, multiprocess_mode="livemin",
        )
        self.cached_sessions = Gauge(
            "authgate_session_cache_entries", "Sessions in the per-process session caches.",
            registry=registry, multiprocess_mode="livesum",
        )
        self._registry = registry
        self._exposed = self._exposition_registry(registry, multiprocess_dir)
        self._outcomes: dict[tuple[str, Outcome, str, int], int] = {}
        self._timings: dict[tuple[str, str], _Timings] = {}
        self._dropped_seen = 0

    @staticmethod
    def _exposition_registry(
        registry: CollectorRegistry, directory: str | None
    ) -> CollectorRegistry:
        if directory is None:
            ProcessCollector(registry=registry)
            return registry
        # Values are in the files; this registry only reads them back, all workers'.
        exposed = CollectorRegistry()
        MultiProcessCollector(exposed, path=directory)  # type: ignore[no-untyped-call]
        return exposed

    def observe(self, record: DecisionRecord) -> None:
        """Count one finished request. Event loop thread; cheap (see module doc)."""
        route = record.route or ""
        # The status, not its class, in the key: the class is worked out once per flush.
        key = (route, record.decision, record.reason, record.status)
        outcomes = self._outcomes
        outcomes[key] = outcomes.get(key, 0) + 1
        timings = self._timings
        gateway = 0.0  # total minus upstream, added up as the stages go by
        for stage, seconds in record.durations:
            (timings.get((route, stage)) or self._timings_of(route, stage)).add(seconds)
            if stage == "total":
                gateway += seconds
            elif stage == "upstream":
                gateway -= seconds
        # Clamped: the two clocks are read at different points, never by the same call.
        found = timings.get((route, "gateway")) or self._timings_of(route, "gateway")
        found.add(gateway if gateway > 0.0 else 0.0)
        if record.reason in UPSTREAM_FAILURES:  # rare: straight to the counter
            self.upstream_errors.labels(route, record.reason).inc()

    def _timings_of(self, route: str, stage: str) -> _Timings:
        """The first observation of (route, stage): its histogram child, made once."""
        timings = _Timings(self.durations.labels(route, stage))
        self._timings[(route, stage)] = timings
        return timings

    def flush(self) -> None:
        """Move what `observe` accumulated into the exposed metrics."""
        outcomes, self._outcomes = self._outcomes, {}
        for (route, decision, reason, status), count in outcomes.items():
            self.requests.labels(route, decision.value, reason, code_class(status)).inc(count)
        for timings in self._timings.values():
            timings.flush()
        for (kind, reason), count in tally.drain().items():
            self.reevaluations.labels(kind, reason).inc(count)

    def reloaded(self, applied: bool) -> None:
        self.reloads.labels("applied" if applied else "rejected").inc()

    def sample(
        self,
        *,
        dropped: int,
        in_flight: int,
        sessions: int | None,
        events_connected: bool = True,
        cached_sessions: int = 0,
    ) -> None:
        """Flush, and pull the current states in: totals as increments, counts as gauges."""
        self.flush()
        self.events_connected.set(1 if events_connected else 0)
        self.cached_sessions.set(cached_sessions)
        if dropped > self._dropped_seen:
            self.decision_log_dropped.inc(dropped - self._dropped_seen)
            self._dropped_seen = dropped
        self.in_flight.set(in_flight)
        if sessions is not None:
            if self.sessions is None:
                self.sessions = Gauge(
                    "authgate_sessions_active", "Sessions held by the memory store.",
                    registry=self._registry, multiprocess_mode="livesum",
                )
            self.sessions.set(sessions)

    def render(self) -> bytes:
        """The exposition text; reads files in multiprocess mode, so call off the loop."""
        return generate_latest(self._exposed)


def count_worker_restarts(directory: str) -> Counter:
    """The supervisor's one metric, written to the workers' shared directory."""
    _use_multiprocess_values(directory)
    return Counter(
        "authgate_worker_restarts", "Workers restarted by the supervisor after they died.",
        registry=CollectorRegistry(),
    )


METRICS = web.AppKey("metrics", Metrics)
