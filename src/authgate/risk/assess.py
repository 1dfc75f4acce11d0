"""One call from facts and history to the risk verdict the decision record carries.

Contract: `assess(...)` = `signals(...)`, then `score`, then `risk_decision`, returned
as one frozen `Assessment` (signals in declaration order, the score, the outcome).
The policy step reads `outcome`; the decision log writes `score` and `signals`. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate.geo.facts import GeoFacts
from authgate.risk.model import History
from authgate.risk.rules import RiskRules
from authgate.risk.score import RiskOutcome, risk_decision, score
from authgate.risk.signal import Signal
from authgate.risk.signals import signals


@dataclass(frozen=True, slots=True)
class Assessment:
    signals: tuple[Signal, ...]
    score: int
    outcome: RiskOutcome

    @property
    def codes(self) -> tuple[str, ...]:
        """The signals as their kebab-case codes, for records and logs."""
        return tuple(s.value for s in self.signals)


def assess(
    now: float,
    geo: GeoFacts | None,
    device_id: str | None,
    history: History,
    rules: RiskRules,
    *,
    client_ip: str | None,
) -> Assessment:
    raised = signals(now, geo, device_id, history, rules, client_ip=client_ip)
    total = score(raised, rules.weights)
    return Assessment(raised, total, risk_decision(total, rules.thresholds))
