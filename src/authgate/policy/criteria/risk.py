"""`risk: {below: N}`: the request's risk score is lower than N.

Contract: holds when the score is strictly below N. No score (no risk engine ran for
this route) is unknown: it never allows and trips a deny rule about risk.
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Risk:
    path: str
    out: Outcomes
    below: float

    def check(self, inp: PolicyInput) -> Verdict:
        score = inp.risk
        if score is None:
            return self.out.unknown
        return self.out.yes if score < self.below else self.out.no
