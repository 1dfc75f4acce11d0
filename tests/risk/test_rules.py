"""compile_rules(): audience weights, working hours in a zone, reputation ranges (pure)."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from authgate.config.schema_adaptive import (
    AUDIENCE_WEIGHTS,
    NEUTRAL_WEIGHTS,
    AdaptiveConfig,
    WorkingHours,
)
from authgate.risk.rules import AddressRanges, WorkingWindow, compile_rules
from authgate.risk.signal import Signal


def test_every_audience_weighs_every_signal() -> None:
    for weights in AUDIENCE_WEIGHTS.values():
        assert set(weights) == set(Signal)


def test_audiences_count_what_the_docs_say() -> None:
    workforce, customer = AUDIENCE_WEIGHTS["workforce"], AUDIENCE_WEIGHTS["customer"]
    assert workforce[Signal.NEW_DEVICE] > customer[Signal.NEW_DEVICE]
    assert customer[Signal.IMPOSSIBLE_TRAVEL] > workforce[Signal.IMPOSSIBLE_TRAVEL]
    assert customer[Signal.OUTSIDE_HOURS] == 0


def test_route_weights_override_the_audience_s() -> None:
    rules = compile_rules(AdaptiveConfig(weights={Signal.NEW_DEVICE: 5}), "workforce")
    assert rules.weights[Signal.NEW_DEVICE] == 5
    assert rules.weights[Signal.IMPOSSIBLE_TRAVEL] == AUDIENCE_WEIGHTS["workforce"][
        Signal.IMPOSSIBLE_TRAVEL
    ]
    assert compile_rules(AdaptiveConfig()).weights == NEUTRAL_WEIGHTS


def test_compiled_weights_are_read_only() -> None:
    rules = compile_rules(AdaptiveConfig())
    with pytest.raises(TypeError):
        rules.weights[Signal.NEW_DEVICE] = 0  # type: ignore[index]


def _ts(text: str, zone: str = "Europe/London") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


OFFICE = WorkingWindow.from_config(WorkingHours(hours="08:00-18:00", tz="Europe/London"))
NIGHTS = WorkingWindow.from_config(
    WorkingHours(days=["mon", "tue", "wed", "thu", "fri"], hours="22:00-06:00", tz="Asia/Tokyo")
)


@pytest.mark.parametrize(
    ("window", "when", "inside"),
    [
        (OFFICE, _ts("2026-01-07T08:00"), True),  # Wednesday, the first minute
        (OFFICE, _ts("2026-01-07T17:59"), True),
        (OFFICE, _ts("2026-01-07T18:00"), False),  # the end is exclusive
        (OFFICE, _ts("2026-01-07T07:59"), False),
        (OFFICE, _ts("2026-01-10T11:00"), False),  # Saturday
        (OFFICE, _ts("2026-07-08T08:30"), True),  # summer time: 07:30 UTC
        (OFFICE, _ts("2026-07-08T08:30", "UTC"), True),  # 09:30 in London
        (OFFICE, _ts("2026-07-08T07:30", "UTC"), True),  # 08:30 in London
        (OFFICE, _ts("2026-07-08T06:30", "UTC"), False),  # 07:30 in London
        (NIGHTS, _ts("2026-01-09T23:00", "Asia/Tokyo"), True),  # Friday night
        (NIGHTS, _ts("2026-01-10T05:59", "Asia/Tokyo"), True),  # Saturday, Friday's shift
        (NIGHTS, _ts("2026-01-10T23:00", "Asia/Tokyo"), False),  # Saturday night
        (NIGHTS, _ts("2026-01-12T03:00", "Asia/Tokyo"), False),  # Monday early: Sunday's shift
        (NIGHTS, _ts("2026-01-12T12:00", "Asia/Tokyo"), False),
    ],
)
def test_working_window(window: WorkingWindow, when: float, inside: bool) -> None:
    assert window.contains(when) is inside


def test_whole_days() -> None:
    weekdays = WorkingWindow.from_config(WorkingHours(hours="00:00-24:00"))
    assert weekdays.contains(_ts("2026-01-07T00:00", "UTC"))
    assert weekdays.contains(_ts("2026-01-07T23:59", "UTC"))
    assert not weekdays.contains(_ts("2026-01-10T12:00", "UTC"))


def _networks(*cidrs: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c) for c in cidrs]


@pytest.mark.parametrize(
    ("ip", "listed"),
    [
        ("10.0.0.0", True),
        ("10.255.255.255", True),
        ("11.0.0.0", False),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
        ("9.255.255.255", False),
        ("2001:db8::1", True),
        ("2001:db9::1", False),
        ("::ffff:10.1.2.3", True),
        ("::a00:1", False),  # IPv4-compatible is not IPv4-mapped
        ("garbage", False),
    ],
)
def test_reputation_ranges(ip: str, listed: bool) -> None:
    ranges = AddressRanges.of(
        _networks("10.0.0.0/9", "10.128.0.0/9", "192.0.2.7/32", "2001:db8::/32", "10.1.0.0/16")
    )
    assert ranges.contains(ip) is listed


def test_reputation_ranges_merge() -> None:
    ranges = AddressRanges.of(_networks("10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16"))
    assert ranges.starts[0] == (int(ipaddress.ip_address("10.0.0.0")),)
    assert bool(ranges) and not AddressRanges.of([])
    assert not AddressRanges().contains("10.0.0.1")
