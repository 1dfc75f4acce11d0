"""`consent: [..]`: the user has given every listed consent.

Contract: consents are read from the claim at `PolicyInput.consent_claim` (a dotted
path, the route's `consent.claim`, default `consents`) by `consents_of`: a JSON
list of strings, a single string (ONE consent, never split), or an object whose
keys are consents when their value is neither false nor null
(`{"terms-2026": "2026-01-05"}`). Anything else is no consent. The route-level
`consent:` block (redirect to the consent page) uses the same reading
(`authgate.policy.stepup.consent_missing`).
Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authgate.oidc.claims import claim_at
from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


def consents_of(claims: Mapping[str, Any], path: str) -> frozenset[str]:
    """The consents recorded in the claim at `path` (see the module docstring)."""
    value = claim_at(claims, path)
    if isinstance(value, str):
        return frozenset((value,))
    if isinstance(value, list | tuple):
        return frozenset(item for item in value if isinstance(item, str))
    if isinstance(value, Mapping):
        return frozenset(
            key
            for key, given in value.items()
            if isinstance(key, str) and given is not False and given is not None
        )
    return frozenset()


@dataclass(frozen=True, slots=True)
class Consent:
    path: str
    out: Outcomes
    required: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        given = consents_of(identity.claims, inp.consent_claim)
        return self.out.yes if self.required <= given else self.out.no
