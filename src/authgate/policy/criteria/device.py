"""`device`: facts about the client device (posture token, mTLS certificate, cookie).

Contract: `device: {managed: true, compliant: true}` holds when the request's device
facts have every listed key with exactly that value (JSON types kept apart, as in
`claim`). No device facts at all, or a listed key missing from them, is unknown:
it never allows and trips a deny rule about the device (fail closed).
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.criteria.claim import same
from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Device:
    path: str
    out: Outcomes
    wanted: tuple[tuple[str, bool | int | str], ...]

    def check(self, inp: PolicyInput) -> Verdict:
        device = inp.device
        if device is None:
            return self.out.unknown
        for key, expected in self.wanted:
            if key not in device:
                return self.out.unknown
            if not same(device[key], expected):
                return self.out.no
        return self.out.yes
