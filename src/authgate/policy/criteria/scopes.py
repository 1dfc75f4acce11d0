"""`scopes: [..]`: the access token grants every listed OAuth scope.

Contract: `scopes_of(claims)` reads the token's scopes: the `scope` claim, one string
of space-separated scopes (RFC 9068 §2.2.3.1, RFC 8693 §4.2), else `scp` — a JSON
array of strings (Okta, Keycloak's clients) or, as Entra ID sends it, one
space-separated string. Anything else is no scope at all (a number, an object, an
array holding a non-string: not guessed at). Scopes are exact, case-sensitive words
(RFC 6749 §3.3): `orders.read` never matches `orders.readonly`. Every listed scope
must be granted — the set an RFC 6750 §3.1 `insufficient_scope` answer names; use `or`
for alternatives. A session identity's ID-token claims rarely carry a `scope`: on a
session route this criterion holds only where the provider puts one there.
Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The scopes a token's claims grant (see the module docstring)."""
    value = claims.get("scope")
    if value is None:
        value = claims.get("scp")
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    return frozenset()


@dataclass(frozen=True, slots=True)
class Scopes:
    path: str
    out: Outcomes
    required: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        return self.out.yes if self.required <= scopes_of(identity.claims) else self.out.no
