"""`email` and `email_domain`: the identity's address, exactly or by its domain.

Contract:
- Comparison lowercases A-Z only (`ascii_lower`): a full Unicode lowercase maps
  look-alikes such as the Kelvin sign onto ASCII letters (CWE-178).
- Only an address the provider marks `email_verified` with the JSON boolean `true`
  counts; any other (false, "true", 1, absent) is unknown, never a match: anyone can
  put an unverified address on an account and claim a victim's address or domain
  (the "nOAuth" class, Descope 2023: Entra multi-tenant apps trusting a mutable,
  unverified `email`). A provider configured `email_verified: assume` has every
  address verified (`authgate.oidc.claims`); the criteria only read the result.
- `email_domain` reads the domain after the `@`. An address with more than one `@`
  (`user@evil.com@corp.com`), an empty part, or a domain outside `[a-z0-9.-]` (a
  trailing dot, Unicode) is malformed: which domain it names depends on the parser,
  so it is unknown — it satisfies no allow rule and trips every deny rule that
  asks about it (fail closed). `corp.com` matches exactly that domain;
  `*.corp.com` its subdomains at any depth, never `corp.com` itself nor
  `corp.com.evil.com`.
- No address at all: the criterion does not hold.
Pure module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.config.schema_policy import ascii_lower
from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput

_DOMAIN = re.compile(r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*")


def email_domain(address: str) -> str | None:
    """The lowercase domain of a well-formed address, or None when malformed."""
    local, at, domain = address.partition("@")
    if not at or not local or "@" in domain:
        return None
    domain = ascii_lower(domain)
    return domain if _DOMAIN.fullmatch(domain) else None


@dataclass(frozen=True, slots=True)
class Email:
    path: str
    out: Outcomes  # unknown: email-unverified
    addresses: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        if identity.email is None:
            return self.out.no
        if identity.email_verified is not True:
            return self.out.unknown
        return self.out.yes if ascii_lower(identity.email) in self.addresses else self.out.no


@dataclass(frozen=True, slots=True)
class EmailDomain:
    path: str
    out: Outcomes  # unknown: email-unverified
    malformed: Verdict
    exact: frozenset[str]
    suffixes: tuple[str, ...]  # ".corp.com" for "*.corp.com"

    def check(self, inp: PolicyInput) -> Verdict:
        identity = inp.identity
        if identity is None:
            return self.out.anonymous
        if identity.email is None:
            return self.out.no
        if identity.email_verified is not True:
            return self.out.unknown
        domain = email_domain(identity.email)
        if domain is None:
            return self.malformed
        return self.out.yes if self._covers(domain) else self.out.no

    def _covers(self, domain: str) -> bool:
        return domain in self.exact or domain.endswith(self.suffixes)
