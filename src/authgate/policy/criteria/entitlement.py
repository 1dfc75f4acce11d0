"""`entitlement: [db-admin]`: the user holds an active grant of one of them, here.

Contract: reads `PolicyInput.grants` — the entitlements the user holds on this route
at this moment, each with its grant id, gathered by the request path (only for routes
whose policy names an entitlement: `RoutePolicy.entitlements`) from the grant cache
(`authgate.access.cache`), route scope and expiry already applied. No identity: a
login may decide it. `grants` None means they could not be read (the grant store
down): an unknown fact, which never allows and always trips a deny (fail closed).
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Entitlement:
    path: str
    out: Outcomes
    names: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        if inp.identity is None:
            return self.out.anonymous
        held = inp.grants
        if held is None:
            return self.out.unknown
        for name in self.names:
            if name in held:
                return self.out.yes
        return self.out.no
