"""`Metrics`: what one decision record adds, what sampling adds, the exposition text."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from authgate.decision import Outcome
from authgate.decisionlog import DecisionRecord
from authgate.ops.metrics import LATENCY_BUCKETS, Metrics


def record(
    route: str | None = "hr",
    decision: Outcome = Outcome.ALLOW,
    reason: str = "route-public",
    durations: tuple[tuple[str, float], ...] = (("total", 0.004), ("upstream", 0.003)),
) -> DecisionRecord:
    return DecisionRecord(
        time=0.0, request_id="r", route=route, method="GET", host="h", path="/",
        client_ip="192.0.2.1", decision=decision, reason=reason, rule=None, status=200,
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
    allowed = (("decision", "allow"), ("reason", "route-public"), ("route", "hr"))
    unrouted = (("decision", "deny"), ("reason", "route-not-found"), ("route", ""))
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
                (("decision", "allow"), ("reason", "route-public"), ("route", "hr")),
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
        if key[0].startswith("authgate_request_duration") and not key[0].endswith("_created")
    }
    assert got == expected
