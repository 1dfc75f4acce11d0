"""How and when the user authenticated: `mfa`, `acr`, `amr`, `auth_age`.

Contract (values from the ID token or access token, OIDC Core §2):
- `mfa: true` holds when `amr` names at least one method of the policy's
  `mfa_methods` (RFC 8176 names; default mfa, otp, hwk, swk, sms, face, fpt);
  `mfa: false` holds when it names none.
- `acr: [..]` holds when the token's `acr` is one of the values, exactly (acr values
  are opaque URIs or names; the gateway knows no order between them).
- `amr: [..]` holds when `amr` names EVERY listed method (write alternatives with
  `or`); the same rule as a step-up's `amr`.
- `auth_age: 5m` holds when the login happened at most that long ago; an identity
  without `auth_time` does not hold (a fresh login with `max_age` brings one).
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Mfa:
    path: str
    out: Outcomes
    methods: frozenset[str]
    wanted: bool

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        has_mfa = not self.methods.isdisjoint(identity.amr)
        return self.out.yes if has_mfa is self.wanted else self.out.no


@dataclass(frozen=True, slots=True)
class Acr:
    path: str
    out: Outcomes
    values: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        return self.out.yes if identity.acr in self.values else self.out.no


@dataclass(frozen=True, slots=True)
class Amr:
    path: str
    out: Outcomes
    methods: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        return self.out.yes if self.methods.issubset(identity.amr) else self.out.no


@dataclass(frozen=True, slots=True)
class AuthAge:
    path: str
    out: Outcomes
    max_age: float  # seconds

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        auth_time = identity.auth_time
        if auth_time is None or inp.now - auth_time > self.max_age:
            return self.out.no
        return self.out.yes
