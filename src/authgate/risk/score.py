"""From signals to a score, and from a score to allow, step-up or deny.

Contract: `score` sums the weights of the distinct signals raised (a signal without a
weight counts 0). `risk_decision` compares the score with a route's thresholds:
`deny_at` or more denies (when set), `step_up_at` or more asks for a step-up, below
allows. Both pure; the thresholds are inclusive so "step_up_at: 40" reads as "at 40".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from authgate.risk.rules import Thresholds
from authgate.risk.signal import Signal

RiskOutcome = Literal["allow", "step_up", "deny"]


def score(signals: Iterable[Signal], weights: Mapping[Signal, int]) -> int:
    return sum(weights.get(signal, 0) for signal in set(signals))


def risk_decision(score: int, thresholds: Thresholds) -> RiskOutcome:
    if thresholds.deny_at is not None and score >= thresholds.deny_at:
        return "deny"
    if score >= thresholds.step_up_at:
        return "step_up"
    return "allow"
