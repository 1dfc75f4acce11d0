"""score(), risk_decision() and assess(): thresholds and the audience scenarios (pure)."""

from __future__ import annotations

import pytest

from authgate.config.schema_adaptive import AdaptiveConfig, Audience
from authgate.risk.assess import assess
from authgate.risk.model import History, Location
from authgate.risk.rules import Thresholds, compile_rules
from authgate.risk.score import RiskOutcome, risk_decision, score
from authgate.risk.signal import Signal
from tests.risk.conftest import LONDON, PARIS, SYDNEY

NOW = 1_767_780_000.0


def test_score_sums_distinct_signals() -> None:
    weights = {Signal.NEW_DEVICE: 20, Signal.NEW_COUNTRY: 25}
    assert score([], weights) == 0
    assert score([Signal.NEW_DEVICE], weights) == 20
    assert score([Signal.NEW_DEVICE, Signal.NEW_COUNTRY, Signal.NEW_DEVICE], weights) == 45
    assert score([Signal.OUTSIDE_HOURS], weights) == 0  # no weight: counts nothing


@pytest.mark.parametrize(
    ("value", "thresholds", "outcome"),
    [
        (0, Thresholds(40, 80), "allow"),
        (39, Thresholds(40, 80), "allow"),
        (40, Thresholds(40, 80), "step_up"),  # inclusive
        (79, Thresholds(40, 80), "step_up"),
        (80, Thresholds(40, 80), "deny"),
        (500, Thresholds(40, None), "step_up"),  # risk alone never denies
    ],
)
def test_risk_decision(value: int, thresholds: Thresholds, outcome: RiskOutcome) -> None:
    assert risk_decision(value, thresholds) == outcome


def _history_in_london(minutes_ago: float, countries: set[str]) -> History:
    location = Location.from_geo(LONDON, NOW - minutes_ago * 60)
    return History(
        last_location=location, devices=frozenset({"laptop"}), countries=frozenset(countries)
    )


@pytest.mark.parametrize("audience", [None, "workforce", "customer"])
def test_london_then_sydney_ten_minutes_later_steps_up(audience: Audience | None) -> None:
    # The scenario: same user, same device, Sydney ten minutes after London.
    rules = compile_rules(AdaptiveConfig(), audience)
    result = assess(NOW, SYDNEY, "laptop", _history_in_london(10, {"GB"}), rules, client_ip=None)
    assert result.signals == (Signal.NEW_COUNTRY, Signal.IMPOSSIBLE_TRAVEL)
    assert result.outcome == "step_up"
    assert result.codes == ("new-country", "impossible-travel")


@pytest.mark.parametrize("audience", [None, "workforce", "customer"])
def test_london_then_paris_a_day_later_is_allowed(audience: Audience | None) -> None:
    rules = compile_rules(AdaptiveConfig(), audience)
    history = _history_in_london(24 * 60, {"GB", "FR"})
    result = assess(NOW, PARIS, "laptop", history, rules, client_ip=None)
    assert result.signals == () and result.score == 0 and result.outcome == "allow"


@pytest.mark.parametrize(
    ("audience", "outcome"),
    [("workforce", "deny"), ("customer", "step_up"), (None, "deny")],
)
def test_new_device_and_impossible_travel(audience: Audience, outcome: RiskOutcome) -> None:
    # Workforce counts the device more: an unknown machine far away is refused;
    # a customer on a new phone gets a step-up.
    rules = compile_rules(AdaptiveConfig(), audience)
    history = _history_in_london(10, {"GB"})
    result = assess(NOW, SYDNEY, "unknown", history, rules, client_ip=None)
    assert result.outcome == outcome


def test_a_new_device_alone_is_allowed_everywhere() -> None:
    for audience in (None, "workforce", "customer"):
        rules = compile_rules(AdaptiveConfig(), audience)  # type: ignore[arg-type]
        history = _history_in_london(60, {"GB"})
        assert assess(NOW, LONDON, "new", history, rules, client_ip=None).outcome == "allow"
