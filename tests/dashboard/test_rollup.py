"""The dashboard's rolling aggregates: counts per second, top tables, percentiles."""

from __future__ import annotations

import pytest

from authgate.dashboard.rollup import (
    BOUNDS,
    OTHER,
    RATIO,
    SECONDS,
    TOP_KEYS,
    Rollup,
    bucket_of,
    percentile,
)
from authgate.decision import Outcome
from tests.dashboard.records import T0, record


def test_counts_per_second_by_outcome_and_limit_events() -> None:
    rollup = Rollup()
    for _ in range(3):
        rollup.add(record(Outcome.ALLOW, at=T0 + 0.2))
    rollup.add(record(Outcome.DENY, at=T0 + 0.9, reason="groups-unauthorized"))
    rollup.add(record(Outcome.RATE_LIMITED, at=T0 + 1.5, reason="rate-limited"))
    rollup.add(record(Outcome.RATE_LIMITED, at=T0 + 1.6, reason="login-banned"))
    rollup.add(record(Outcome.ERROR, at=T0 + 2.1, reason="upstream-overloaded"))
    series = rollup.series(T0 + 2.5)
    assert len(series["time"]) == SECONDS and series["time"][-1] == int(T0) + 2
    at = series["time"].index(int(T0))
    assert series["allow"][at : at + 3] == [3, 0, 0]
    assert series["deny"][at : at + 3] == [1, 0, 0]
    assert series["rate_limited"][at : at + 3] == [0, 2, 0]  # the outcome: both
    assert series["limit_refusals"][at : at + 3] == [0, 1, 0]  # the limit events: one each
    assert series["bans"][at : at + 3] == [0, 1, 0]
    assert series["sheds"][at : at + 3] == [0, 0, 1]
    assert series["error"][at : at + 3] == [0, 0, 1]
    totals = rollup.summary(T0 + 2.5)["totals"]
    assert totals == {
        "allow": 3, "deny": 1, "login": 0, "step_up": 0, "rate_limited": 2, "error": 1,
        "limit_refusals": 1, "bans": 1, "sheds": 1,
    }


def test_the_window_is_fifteen_minutes_and_slots_are_reused() -> None:
    rollup = Rollup()
    rollup.add(record(at=T0))
    rollup.add(record(at=T0 + SECONDS))  # the same slot, a full window later
    series = rollup.series(T0 + SECONDS)
    assert sum(series["allow"]) == 1  # the old second left the window
    rollup.add(record(at=T0 + 0.5))  # 900 s older than the newest: not counted
    assert sum(rollup.series(T0 + SECONDS)["allow"]) == 1
    # Seen from further on, nothing is left.
    assert sum(rollup.series(T0 + 3 * SECONDS)["allow"]) == 0


def test_top_tables_count_only_their_kind() -> None:
    rollup = Rollup()
    rollup.add(record(Outcome.DENY, reason="groups-unauthorized", user="bob", ip="198.51.100.7"))
    rollup.add(record(Outcome.DENY, reason="groups-unauthorized", user="bob", ip="198.51.100.7"))
    rollup.add(record(Outcome.DENY, reason="policy-no-match,country-unauthorized", user="carol",
                      country="RU"))
    rollup.add(record(Outcome.RATE_LIMITED, reason="rate-limited", user=None, ip="203.0.113.9"))
    rollup.add(record(Outcome.ERROR, reason="upstream-timeout", route="api"))
    rollup.add(record(Outcome.ALLOW, country="DE", risk=35, signals=("new-device", "new-country")))
    rollup.add(record(Outcome.STEP_UP, reason="risk-step-up", risk=55, signals=("new-device",)))
    top = rollup.summary(T0 + 1)
    assert top["top"]["deny_reasons"] == [  # each code of a record on its own
        ["groups-unauthorized", 2], ["policy-no-match", 1], ["country-unauthorized", 1]
    ]
    assert top["top"]["error_reasons"] == [["upstream-timeout", 1]]
    assert top["top"]["routes"] == [["app", 6], ["api", 1]]
    assert top["top"]["refused_users"] == [["bob", 2], ["carol", 1]]  # the allowed alice is not
    assert top["top"]["refused_ips"] == [["198.51.100.7", 2], ["203.0.113.9", 1], ["192.0.2.1", 1]]
    assert top["top"]["countries"] == [["RU", 1], ["DE", 1]]
    assert top["signals"] == [["new-device", 2], ["new-country", 1]]
    assert top["risk"] == [0, 0, 0, 1, 0, 1, 0, 0, 0, 0]


def test_tables_merge_minutes_and_keep_fifteen_of_them() -> None:
    rollup = Rollup()
    for minute in range(20):
        rollup.add(record(Outcome.DENY, at=T0 + 60 * minute, reason=f"r{minute % 2}", user="bob"))
    summary = rollup.summary(T0 + 60 * 19 + 30)
    # minutes 5..19 are the last fifteen: r1 in 6,7..19 odd (7 of them), r0 in 8 even ones
    assert dict(map(tuple, summary["top"]["deny_reasons"])) == {"r0": 7, "r1": 8}
    assert summary["top"]["refused_users"] == [["bob", 15]]


def test_a_table_is_bounded_and_the_rest_counts_as_other() -> None:
    rollup = Rollup()
    rollup.add(record(Outcome.DENY, ip="10.0.0.1"))
    for index in range(TOP_KEYS + 50):
        rollup.add(record(Outcome.DENY, ip=f"10.1.{index // 256}.{index % 256}"))
    for _ in range(5):
        rollup.add(record(Outcome.DENY, ip="10.0.0.1"))  # a heavy hitter seen early
    ips = dict(map(tuple, rollup.summary(T0 + 1)["top"]["refused_ips"]))
    assert ips["10.0.0.1"] == 6
    assert ips[OTHER] == 51  # TOP_KEYS keys fit (10.0.0.1 among them), the rest do not


def test_latency_percentiles_gateway_added_and_upstream() -> None:
    rollup = Rollup()
    for index in range(100):
        # upstream 10 ms each; the gateway adds 1 ms, except 5 requests adding 50 ms
        added = 0.050 if index < 5 else 0.001
        rollup.add(record(total=0.010 + added, upstream=0.010))
    rollup.add(record(Outcome.DENY, total=0.0003, upstream=None))  # not forwarded
    latency = rollup.summary(T0 + 1)["latency"]["app"]
    assert latency["count"] == 101
    gateway, upstream = latency["gateway_ms"], latency["upstream_ms"]
    assert 1.0 <= gateway["p50"] <= 1.0 * RATIO  # the bucket's upper bound: >= true, < 19 % above
    assert 1.0 <= gateway["p90"] <= 1.0 * RATIO
    assert 50.0 <= gateway["p99"] <= 50.0 * RATIO
    assert 10.0 <= upstream["p50"] <= 10.0 * RATIO and 10.0 <= upstream["p99"] <= 10.0 * RATIO


@pytest.mark.parametrize("seconds", [0.0, 0.00004, 0.00005, 0.0001, 0.0123, 1.0, 59.0, 1e6])
def test_bucket_bounds_hold_the_value(seconds: float) -> None:
    index = bucket_of(seconds)
    if index < len(BOUNDS) - 1:
        assert seconds <= BOUNDS[index] * (1 + 1e-9)
    if index > 0:
        assert seconds > BOUNDS[index - 1] * (1 - 1e-9)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([0] * len(BOUNDS), 99) is None
