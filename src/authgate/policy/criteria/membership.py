"""`groups` and `roles`: the identity holds at least one of the listed names.

Contract: exact, case-sensitive comparison of the names the provider sent (mapped by
the provider's `claims` settings); any one listed name is enough. Use `and` to
require several.
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Groups:
    path: str
    out: Outcomes
    names: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        return self.out.no if self.names.isdisjoint(identity.groups) else self.out.yes


@dataclass(frozen=True, slots=True)
class Roles:
    path: str
    out: Outcomes
    names: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        return self.out.no if self.names.isdisjoint(identity.roles) else self.out.yes
