"""`Metrics`: what one decision record adds, what sampling adds, the exposition text."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from authgate.continuous import tally
from authgate.decision import Outcome
from authgate.decisionlog import DecisionRecord
from authgate.ops.metrics import LATENCY_BUCKETS, Metrics, code_class


def record(
    route: str | None = "hr",
    decision: Outcome = Outcome.ALLOW,
    reason: str = "route-public",
    status: int = 200,
    durations: tuple[tuple[str, float], ...] = (("total", 0.004), ("upstream", 0.003)),
) -> DecisionRecord:
    return DecisionRecord(
        time=0.0, request_id="r", route=route, method="GET", host="h", path="/",
        client_ip="192.0.2.1", decision=decision, reason=reason, rule=None, status=status,
        upstream_status=200, durations=durations,
    )  # fmt: skip


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    metrics.flush()
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_are_counted_by_route_decision_and_reason() -> None:
    metrics = Metrics()
    metrics.observe(record())
    metrics.observe(record())
    metrics.observe(
        record(
            route=None,
            decision=Outcome.DENY,
            reason="route-not-found",
            durations=(("total", 0.0001),),
        )
    )
    seen = samples(metrics)
    allowed = (
        ("code_class", "2xx"), ("decision", "allow"), ("reason", "route-public"), ("route", "hr")
    )
    unrouted = (
        ("code_class", "2xx"), ("decision", "deny"), ("reason", "route-not-found"), ("route", "")
    )
    assert seen[("authgate_requests_total", allowed)] == 2
    assert seen[("authgate_requests_total", unrouted)] == 1


def test_each_stage_of_the_record_is_timed_per_route() -> None:
    metrics = Metrics()
    metrics.observe(record(durations=(("total", 0.004), ("upstream", 0.003))))
    seen = samples(metrics)
    for stage, seconds in (("total", 0.004), ("upstream", 0.003)):
        labels = (("route", "hr"), ("stage", stage))
        assert seen[("authgate_request_duration_seconds_count", labels)] == 1
        assert seen[("authgate_request_duration_seconds_sum", labels)] == seconds
        bucket = (("le", "0.005"), ("route", "hr"), ("stage", stage))
        assert seen[("authgate_request_duration_seconds_bucket", bucket)] == 1


def test_upstream_failures_are_counted_apart() -> None:
    metrics = Metrics()
    metrics.observe(record(decision=Outcome.ERROR, reason="upstream-timeout"))
    metrics.observe(record(decision=Outcome.ERROR, reason="gateway-error"))
    seen = samples(metrics)
    errors = {k: v for k, v in seen.items() if k[0] == "authgate_upstream_errors_total"}
    assert errors == {
        ("authgate_upstream_errors_total", (("reason", "upstream-timeout"), ("route", "hr"))): 1
    }


def test_sampling_turns_totals_into_increments() -> None:
    metrics = Metrics()
    metrics.sample(dropped=3, in_flight=2, sessions=None)
    metrics.sample(dropped=5, in_flight=0, sessions=None)
    metrics.sample(dropped=5, in_flight=1, sessions=None)
    seen = samples(metrics)
    assert seen[("authgate_decision_log_dropped_total", ())] == 5
    assert seen[("authgate_requests_in_flight", ())] == 1


def test_sessions_gauge_appears_only_when_the_store_can_count() -> None:
    metrics = Metrics()
    metrics.sample(dropped=0, in_flight=0, sessions=None)  # the Redis store
    assert not any(name == "authgate_sessions_active" for name, _ in samples(metrics))
    metrics.sample(dropped=0, in_flight=0, sessions=7)  # the memory store
    assert samples(metrics)[("authgate_sessions_active", ())] == 7


def test_reloads_are_counted_by_result() -> None:
    metrics = Metrics()
    metrics.reloaded(True)
    metrics.reloaded(False)
    metrics.reloaded(False)
    seen = samples(metrics)
    assert seen[("authgate_config_reloads_total", (("result", "applied"),))] == 1
    assert seen[("authgate_config_reloads_total", (("result", "rejected"),))] == 2


def test_reevaluations_are_counted_by_kind_and_reason() -> None:
    metrics = Metrics()
    tally.drain()  # what earlier tests in this process counted
    tally.count("refresh", "groups-changed")
    tally.count("refresh", "groups-changed")
    tally.count("connection", "session-ended")
    metrics.flush()
    seen = samples(metrics)
    key = "authgate_reevaluations_total"
    assert seen[(key, (("kind", "refresh"), ("reason", "groups-changed")))] == 2
    assert seen[(key, (("kind", "connection"), ("reason", "session-ended")))] == 1
    metrics.flush()  # drained: nothing counted twice
    assert samples(metrics)[(key, (("kind", "refresh"), ("reason", "groups-changed")))] == 2


def test_two_metrics_objects_do_not_share_values() -> None:
    # Each app has its own registry: in-process tests never collide on names.
    first, second = Metrics(), Metrics()
    first.observe(record())
    assert not any(k[0] == "authgate_requests_total" for k in samples(second))


def test_nothing_is_exposed_before_a_flush_and_everything_after() -> None:
    metrics = Metrics()
    metrics.observe(record())
    text = metrics.render().decode()
    assert 'authgate_requests_total{decision="allow"' not in text
    metrics.flush()
    metrics.flush()  # a second flush adds nothing
    assert (
        samples(metrics)[
            (
                "authgate_requests_total",
                (
                    ("code_class", "2xx"),
                    ("decision", "allow"),
                    ("reason", "route-public"),
                    ("route", "hr"),
                ),
            )
        ]
        == 1
    )


@pytest.mark.parametrize(
    "observed",
    [
        [0.0, 0.0005, 0.0005001, 0.004, 0.005, 0.0051, 59.9, 60.0, 61.0, 1e9],
        [0.123] * 50 + [2.5, 2.5000001],
    ],
)
def test_batched_histogram_matches_prometheus_observe(observed: list[float]) -> None:
    # The flush adds to Histogram internals in bulk; this pins it to what
    # Histogram.observe itself would have exposed, bucket edges included.
    registry = CollectorRegistry()
    reference = Histogram(
        "authgate_request_duration_seconds",
        "x",
        ["route", "stage"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    ).labels("hr", "total")
    metrics = Metrics()
    for seconds in observed:
        reference.observe(seconds)
        metrics.observe(record(durations=(("total", seconds),)))
    expected = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if not s.name.endswith("_created")
    }
    got = {
        key: value
        for key, value in samples(metrics).items()
        if key[0].startswith("authgate_request_duration")
        and not key[0].endswith("_created")
        and ("stage", "total") in key[1]
    }
    assert got == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (100, "1xx"), (101, "1xx"), (199, "1xx"), (200, "2xx"), (204, "2xx"), (299, "2xx"),
        (301, "3xx"), (304, "3xx"), (400, "4xx"), (429, "4xx"), (431, "4xx"), (499, "4xx"),
        (500, "5xx"), (502, "5xx"), (503, "5xx"), (599, "5xx"),
        (0, "other"), (99, "other"), (600, "other"), (999, "other"), (-1, "other"),
    ],
)  # fmt: skip
def test_status_code_classes_are_bounded(status: int, expected: str) -> None:
    assert code_class(status) == expected


def test_requests_are_counted_by_status_class() -> None:
    metrics = Metrics()
    for status in (200, 204, 302, 404, 429, 502, 503, 503, 700):
        metrics.observe(record(status=status))
    classes: dict[str, float] = {}
    for (name, labels), value in samples(metrics).items():
        if name == "authgate_requests_total":
            classes[dict(labels)["code_class"]] = value
    assert classes == {"2xx": 2, "3xx": 1, "4xx": 2, "5xx": 3, "other": 1}


@pytest.mark.parametrize(
    ("durations", "gateway"),
    [
        ((("total", 0.004), ("upstream", 0.003)), 0.001),  # proxied: total minus upstream
        ((("total", 0.0002),), 0.0002),  # answered by the gateway: all of it is its own
        ((("upstream", 0.003), ("total", 0.0031)), 0.0001),  # order does not matter
        ((("total", 0.002), ("upstream", 0.0021)), 0.0),  # clocks read apart: never negative
    ],
)
def test_gateway_added_time_is_timed_per_route(
    durations: tuple[tuple[str, float], ...], gateway: float
) -> None:
    metrics = Metrics()
    metrics.observe(record(route="hr", durations=durations))
    metrics.observe(record(route=None, durations=(("total", 0.01),)))
    seen = samples(metrics)
    labels = (("route", "hr"), ("stage", "gateway"))
    assert seen[("authgate_request_duration_seconds_count", labels)] == 1
    assert seen[("authgate_request_duration_seconds_sum", labels)] == pytest.approx(gateway)
    unrouted = (("route", ""), ("stage", "gateway"))
    assert seen[("authgate_request_duration_seconds_sum", unrouted)] == pytest.approx(0.01)


def test_latency_series_per_route_are_bounded() -> None:
    # Thousands of requests on two routes: the series count depends on routes, stages
    # and buckets only, never on the number of requests or their statuses.
    metrics = Metrics()
    for index in range(2000):
        metrics.observe(
            record(route=("hr", "wiki")[index % 2], status=100 + index % 500,
                   durations=(("total", index / 1000), ("upstream", index / 2000)))
        )  # fmt: skip
    seen = samples(metrics)
    buckets = [k for k in seen if k[0] == "authgate_request_duration_seconds_bucket"]
    assert len(buckets) == 2 * 3 * (len(LATENCY_BUCKETS) + 1)
    requests = [k for k in seen if k[0] == "authgate_requests_total"]
    assert len(requests) == 2 * 5  # two routes, five classes
