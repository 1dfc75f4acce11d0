"""`authenticated` and `user`: is there an identity, and is it one of these users.

Contract: `authenticated: true` holds for any identity; without one it is unknown,
never false, because logging in changes it (so an allow rule leads to a login, not
a 403). `user` holds when a listed value equals the identity's display id
(`Identity.user`: username, else email, else subject) or its subject, exactly
(case-sensitive: `sub` is, OIDC Core §2) — an email counts only when verified
(`email_verified` true, as for the `email` criterion: nOAuth, Descope 2023), so an
unverified address shown as the display id never matches a listed address. Prefer subjects or emails in rules:
`preferred_username` is not unique and some providers let users edit it
(OIDC Core §5.7).
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.identity import Identity
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Authenticated:
    path: str
    out: Outcomes

    def check(self, inp: PolicyInput) -> Verdict:
        return self.out.anonymous if inp.identity is None else self.out.yes


@dataclass(frozen=True, slots=True)
class User:
    path: str
    out: Outcomes
    names: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        if identity.subject in self.names or _display_id(identity) in self.names:
            return self.out.yes
        return self.out.no


def _display_id(identity: Identity) -> str | None:
    if identity.username is not None:
        return identity.username
    return identity.email if identity.email_verified is True else None
