"""GCRA arithmetic: exact tables, then properties over any sequence of requests.

The tables use Limit(10/s, burst 5): T = 0.1 s, so a fresh key takes 5 requests
at once and then one per 100 ms.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.ratelimit.gcra import EPSILON, GcraResult, Limit, gcra_check
from tests.testbed.clock import START

TEN_PER_SECOND = Limit(rate_per_second=10, burst=5)


def approx(result: GcraResult) -> tuple[object, ...]:
    return (
        result.allowed,
        pytest.approx(result.new_tat, abs=1e-9),
        result.remaining,
        pytest.approx(result.retry_after, abs=1e-9),
        pytest.approx(result.reset_after, abs=1e-9),
    )


# (stored tat, now, cost) -> (allowed, new_tat, remaining, retry_after, reset_after)
TABLE = [
    pytest.param(None, 0.0, 1, (True, 0.1, 4, 0.0, 0.1), id="fresh-key"),
    pytest.param(0.4, 0.0, 1, (True, 0.5, 0, 0.0, 0.5), id="last-of-burst"),
    pytest.param(0.5, 0.0, 1, (False, 0.5, 0, 0.1, 0.5), id="burst-spent"),
    pytest.param(0.5, 0.05, 1, (False, 0.5, 0, 0.05, 0.45), id="half-refilled"),
    pytest.param(0.5, 0.1, 1, (True, 0.6, 0, 0.0, 0.5), id="one-refilled"),
    pytest.param(0.2, 1.0, 1, (True, 1.1, 4, 0.0, 0.1), id="tat-in-the-past"),
    pytest.param(0.3, 0.0, 2, (True, 0.5, 0, 0.0, 0.5), id="cost-fits-exactly"),
    pytest.param(0.3, 0.0, 3, (False, 0.3, 0, 0.1, 0.3), id="cost-too-big-for-now"),
    pytest.param(None, 0.0, 5, (True, 0.5, 0, 0.0, 0.5), id="cost-of-whole-burst"),
    pytest.param(None, 0.0, 0, (True, 0.0, 5, 0.0, 0.0), id="read-only-fresh"),
    pytest.param(0.4, 0.0, 0, (True, 0.4, 1, 0.0, 0.4), id="read-only-spends-nothing"),
]


@pytest.mark.parametrize(("tat", "now", "cost", "expected"), TABLE)
def test_table(tat: float | None, now: float, cost: int, expected: tuple[object, ...]) -> None:
    assert approx(gcra_check(tat, now, TEN_PER_SECOND, cost)) == expected


def test_burst_of_one_is_a_plain_rate() -> None:
    once = Limit(rate_per_second=1, burst=1)
    first = gcra_check(None, 0.0, once)
    assert (first.allowed, first.remaining, first.new_tat) == (True, 0, 1.0)
    second = gcra_check(first.new_tat, 0.5, once)
    assert (second.allowed, second.retry_after) == (False, 0.5)
    assert gcra_check(first.new_tat, 1.0, once).allowed


def test_fresh_key_takes_the_burst_then_refuses() -> None:
    tat: float | None = None
    remaining: list[int] = []
    for _ in range(5):
        result = gcra_check(tat, START, TEN_PER_SECOND)
        assert result.allowed
        tat = result.new_tat
        remaining.append(result.remaining)
    assert remaining == [4, 3, 2, 1, 0]
    refused = gcra_check(tat, START, TEN_PER_SECOND)
    assert not refused.allowed and refused.new_tat == tat


def test_on_schedule_always_passes_at_wall_clock_magnitudes() -> None:
    # T = 0.1 is not exact in binary and an ulp at 1.8e9 s is ~0.24 µs: the
    # tolerance keeps every on-time request in, ten thousand steps later too.
    tat, now = None, START
    for step in range(10_000):
        result = gcra_check(tat, START + step * 0.1, TEN_PER_SECOND)
        assert result.allowed, step
        tat, now = result.new_tat, START + step * 0.1
    assert gcra_check(tat, now, TEN_PER_SECOND).remaining == 3


@pytest.mark.parametrize("cost", [-1, 6])
def test_cost_outside_zero_to_burst_is_refused(cost: int) -> None:
    with pytest.raises(ValueError, match="cost"):
        gcra_check(None, 0.0, TEN_PER_SECOND, cost)


@pytest.mark.parametrize(
    ("rate", "burst"), [(0, 1), (-1, 1), (math.inf, 1), (math.nan, 1), (1, 0), (1, -3)]
)
def test_bad_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        Limit(rate, burst)


def test_limit_derived_times() -> None:
    limit = Limit(rate_per_second=10, burst=60)
    assert limit.emission_interval == pytest.approx(0.1)
    assert limit.tolerance == pytest.approx(5.9)
    assert limit.window == pytest.approx(6.0)


# -- properties ----------------------------------------------------------------

limits = st.builds(
    Limit,
    rate_per_second=st.sampled_from([0.01, 0.5, 1.0, 7.0, 10.0, 50.0, 600 / 60, 1000.0]),
    burst=st.integers(min_value=1, max_value=30),
)
# Request times in ms from START; a few land on the same instant.
offsets_ms = st.lists(st.integers(min_value=0, max_value=120_000), min_size=1, max_size=80)


def replay(limit: Limit, times: list[float]) -> list[GcraResult]:
    tat: float | None = None
    results = []
    for now in times:
        result = gcra_check(tat, now, limit)
        tat = result.new_tat
        results.append(result)
    return results


@settings(max_examples=300, deadline=None)
@given(limit=limits, offsets=offsets_ms)
def test_no_window_admits_more_than_burst_plus_rate_times_length(
    limit: Limit, offsets: list[int]
) -> None:
    times = [START + ms / 1000 for ms in sorted(offsets)]
    allowed = [t for t, r in zip(times, replay(limit, times), strict=True) if r.allowed]
    for i, first in enumerate(allowed):
        for j in range(i, len(allowed)):
            length = allowed[j] - first
            # + EPSILON: a request up to 1 µs early counts as on time (gcra.py).
            assert j - i + 1 <= limit.burst + limit.rate_per_second * (length + 2 * EPSILON)


@settings(max_examples=300, deadline=None)
@given(limit=limits, offsets=offsets_ms)
def test_a_refused_request_passes_after_retry_after(limit: Limit, offsets: list[int]) -> None:
    times = [START + ms / 1000 for ms in sorted(offsets)]
    tat: float | None = None
    for now in times:
        result = gcra_check(tat, now, limit)
        if not result.allowed:
            assert result.retry_after > 0
            assert gcra_check(tat, now + result.retry_after, limit).allowed
            assert not gcra_check(tat, now + result.retry_after * 0.99 - 1e-5, limit).allowed
        tat = result.new_tat


@settings(max_examples=300, deadline=None)
@given(limit=limits, offsets=offsets_ms)
def test_remaining_is_exactly_what_passes_at_once(limit: Limit, offsets: list[int]) -> None:
    times = [START + ms / 1000 for ms in sorted(offsets)]
    results = replay(limit, times)
    last, now = results[-1], times[-1]
    if not last.allowed:
        return
    tat = last.new_tat
    for _ in range(last.remaining):
        result = gcra_check(tat, now, limit)
        assert result.allowed
        tat = result.new_tat
    assert not gcra_check(tat, now, limit).allowed


@settings(max_examples=200, deadline=None)
@given(limit=limits, offsets=offsets_ms)
def test_after_reset_after_the_full_burst_is_back(limit: Limit, offsets: list[int]) -> None:
    times = [START + ms / 1000 for ms in sorted(offsets)]
    last = replay(limit, times)[-1]
    later = gcra_check(last.new_tat, times[-1] + last.reset_after, limit, cost=0)
    assert later.remaining == limit.burst
