"""signals(): a table of personas and requests, and the travel arithmetic (pure)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from authgate.config.schema_adaptive import AdaptiveConfig, WorkingHours
from authgate.geo.facts import GeoFacts
from authgate.risk.model import History, Location
from authgate.risk.rules import RiskRules, compile_rules
from authgate.risk.signal import Signal
from authgate.risk.signals import great_circle_km, signals, travel_speed_kmh
from tests.risk.conftest import (
    COUNTRY_ONLY_GB,
    LONDON,
    NEW_YORK,
    PARIS,
    SYDNEY,
    TOR_EXIT,
    VPN_EXIT,
)

# Wednesday 2026-01-07 11:00 UTC: inside office hours in London.
NOW = datetime(2026, 1, 7, 11, 0, tzinfo=UTC).timestamp()
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
RULES = compile_rules(
    AdaptiveConfig(
        reputation=["203.0.113.0/24", "2001:db8:bad::/48"],
        working_hours=WorkingHours(hours="08:00-18:00", tz="Europe/London"),
    )
)


def at(place: GeoFacts, when: float) -> Location:
    location = Location.from_geo(place, when)
    assert location is not None
    return location


# Personas: what the store remembers about each user.
alice_settled = History(  # one laptop, always in London; last seen yesterday
    last_location=at(LONDON, NOW - DAY), devices=frozenset({"alice-laptop"}),
    countries=frozenset({"GB"}),
)  # fmt: skip
bob_just_in_london = History(  # seen in London ten minutes ago
    last_location=at(LONDON, NOW - 10 * MINUTE), devices=frozenset({"bob-phone"}),
    countries=frozenset({"GB", "AU"}),
)  # fmt: skip
carol_new = History()  # never seen: the first request sets the baseline
dave_hammered = History(failed_logins=7, devices=frozenset({"dave-pc"}))


def raised(
    history: History,
    geo: GeoFacts | None = LONDON,
    device: str | None = None,
    ip: str | None = "198.51.100.7",
    now: float = NOW,
    rules: RiskRules = RULES,
) -> set[Signal]:
    return set(signals(now, geo, device, history, rules, client_ip=ip))


LAPTOP = "alice-laptop"
S = Signal


@pytest.mark.parametrize(
    ("history", "geo", "device", "ip", "expected"),
    [
        pytest.param(alice_settled, LONDON, LAPTOP, None, set(), id="alice-as-usual"),
        pytest.param(alice_settled, LONDON, "stolen-pc", None, {S.NEW_DEVICE}, id="new-device"),
        pytest.param(alice_settled, PARIS, LAPTOP, None, {S.NEW_COUNTRY}, id="paris-next-day"),
        pytest.param(alice_settled, VPN_EXIT, LAPTOP, None,
                     {S.NEW_COUNTRY, S.ANONYMOUS_NETWORK}, id="vpn"),
        pytest.param(alice_settled, TOR_EXIT, LAPTOP, None, {S.ANONYMOUS_NETWORK}, id="tor"),
        pytest.param(alice_settled, LONDON, LAPTOP, "203.0.113.50", {S.IP_REPUTATION},
                     id="bad-ipv4"),
        pytest.param(alice_settled, LONDON, LAPTOP, "2001:db8:bad::1", {S.IP_REPUTATION},
                     id="bad-ipv6"),
        pytest.param(alice_settled, LONDON, LAPTOP, "::ffff:203.0.113.50", {S.IP_REPUTATION},
                     id="bad-ipv4-mapped"),
        pytest.param(alice_settled, LONDON, LAPTOP, "not-an-ip", set(), id="ip-unparsable"),
        pytest.param(bob_just_in_london, SYDNEY, "bob-phone", None, {S.IMPOSSIBLE_TRAVEL},
                     id="london-then-sydney-10-min"),
        pytest.param(carol_new, SYDNEY, "carol-phone", None, set(), id="first-request"),
        pytest.param(dave_hammered, None, "dave-pc", None, {S.FAILED_LOGINS}, id="failed-logins"),
        pytest.param(alice_settled, None, None, None, set(), id="nothing-known"),
    ],
)  # fmt: skip
def test_signals_table(
    history: History,
    geo: GeoFacts | None,
    device: str | None,
    ip: str | None,
    expected: set[Signal],
) -> None:
    assert raised(history, geo, device, ip) == expected


def test_signals_come_in_declaration_order() -> None:
    history = dataclasses.replace(bob_just_in_london, countries=frozenset({"GB"}), failed_logins=9)
    got = signals(NOW, SYDNEY, "other", history, RULES, client_ip="203.0.113.1")
    assert list(got) == sorted(got, key=list(Signal).index)
    assert len(got) == 5


def test_acknowledged_signals_are_left_out() -> None:
    history = dataclasses.replace(
        alice_settled, acknowledged=frozenset({Signal.ANONYMOUS_NETWORK, Signal.NEW_COUNTRY})
    )
    assert raised(history, VPN_EXIT, "alice-laptop") == set()
    assert raised(history, VPN_EXIT, "new-pc") == {Signal.NEW_DEVICE}


# ------------------------------------------------------------------ impossible travel


def test_london_then_sydney_ten_minutes_later_is_impossible() -> None:
    history = History(last_location=at(LONDON, NOW - 10 * MINUTE))
    assert Signal.IMPOSSIBLE_TRAVEL in raised(history, SYDNEY)


def test_london_then_paris_a_day_later_is_not() -> None:
    history = History(last_location=at(LONDON, NOW - DAY))
    assert Signal.IMPOSSIBLE_TRAVEL not in raised(history, PARIS)


@pytest.mark.parametrize(
    ("start", "end", "elapsed", "impossible"),
    [
        (LONDON, PARIS, 10 * MINUTE, True),  # ~344 km in 10 min
        (LONDON, PARIS, 2 * HOUR, False),  # a plane, or a fast train
        (LONDON, NEW_YORK, 6 * HOUR, False),  # a transatlantic flight
        (LONDON, NEW_YORK, 3 * HOUR, True),  # faster than any airliner
        (LONDON, LONDON, 0.0, False),  # the same place, the same second
        (LONDON, SYDNEY, 25 * HOUR, False),
        (PARIS, SYDNEY, -HOUR, True),  # a clock stepping back counts as one second
    ],
)
def test_travel_table(
    start: GeoFacts, end: GeoFacts, elapsed: float, impossible: bool
) -> None:
    history = History(last_location=at(start, NOW - elapsed))
    assert (Signal.IMPOSSIBLE_TRAVEL in raised(history, end)) is impossible


def test_accuracy_radii_absorb_nearby_points() -> None:
    # Two points 30 km apart, each known to within 20 km: they may be the same place.
    here = GeoFacts(country="GB", latitude=51.5, longitude=-0.12, accuracy_km=20)
    near = GeoFacts(country="GB", latitude=51.77, longitude=-0.12, accuracy_km=20)
    assert travel_speed_kmh(at(here, NOW - 1), at(near, NOW)) == 0.0
    history = History(last_location=at(here, NOW - 1))
    assert Signal.IMPOSSIBLE_TRAVEL not in raised(history, near)


def test_no_coordinates_no_travel_signal() -> None:
    history = History(last_location=at(COUNTRY_ONLY_GB, NOW - MINUTE))
    assert Signal.IMPOSSIBLE_TRAVEL not in raised(history, SYDNEY)
    history = History(last_location=at(LONDON, NOW - MINUTE))
    assert Signal.IMPOSSIBLE_TRAVEL not in raised(history, GeoFacts(country="AU"))


def test_the_speed_limit_is_configurable() -> None:
    slow = compile_rules(AdaptiveConfig(max_speed_kmh=100))
    history = History(last_location=at(LONDON, NOW - 2 * HOUR))
    assert Signal.IMPOSSIBLE_TRAVEL in raised(history, PARIS, rules=slow)
    assert Signal.IMPOSSIBLE_TRAVEL not in raised(history, PARIS)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        (LONDON, PARIS, 344),
        (LONDON, SYDNEY, 16_994),
        (LONDON, NEW_YORK, 5_570),
        (LONDON, LONDON, 0),
    ],
)
def test_great_circle(a: GeoFacts, b: GeoFacts, km: float) -> None:
    assert a.coordinates is not None and b.coordinates is not None
    assert great_circle_km(a.coordinates, b.coordinates) == pytest.approx(km, abs=5)


def test_antipodes_do_not_overflow() -> None:
    assert great_circle_km((0.0, 0.0), (0.0, 180.0)) == pytest.approx(20_015, abs=5)


# ------------------------------------------------------------------ failed logins


@pytest.mark.parametrize(("failures", "expected"), [(0, False), (4, False), (5, True), (50, True)])
def test_failed_logins_threshold(failures: int, expected: bool) -> None:
    history = History(failed_logins=failures)
    assert (Signal.FAILED_LOGINS in raised(history)) is expected
