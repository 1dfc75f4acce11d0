"""`groups` and `roles`: the identity holds at least one of the listed names.

Contract: exact, case-sensitive comparison of the names the provider sent (mapped by
the provider's `claims` settings); any one listed name is enough. Use `and` to
require several. A claim that was present but not a JSON array of strings
(`Identity.mistyped`, see `authgate.oidc.claims`) is unknown, `claim-type-mismatch`:
it never satisfies an allow rule, and trips a deny rule that asks about it (fail
closed: a deny on `contractors` must not be walked around by sending the groups
as a string).
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Membership:
    """`groups` or `roles`, by `attribute`: the same rule over either list."""

    path: str
    out: Outcomes  # unknown: claim-type-mismatch
    names: frozenset[str]
    attribute: Literal["groups", "roles"]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        if self.attribute in identity.mistyped:
            return self.out.unknown
        held = identity.groups if self.attribute == "groups" else identity.roles
        return self.out.no if self.names.isdisjoint(held) else self.out.yes
