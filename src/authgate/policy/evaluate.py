"""evaluate(): one compiled policy over one request's facts -> `PolicyResult`.

Contract: pure, synchronous, no I/O, no allocation beyond the result. Order:

1. deny rules, in file order. The first that holds refuses (deny wins). One whose
   needed fact is missing (UNKNOWN_FACT) refuses too — fail closed: a country
   rule cannot be walked around by hiding the country. One that needs an identity
   there is none of (UNKNOWN_USER) blocks every allow: the result asks for a login
   (`identity_needed`), since after it the deny may hold.
2. allow rules, in file order. The first that holds allows, with the path of the
   entry that decided (`routes[hr].policy.allow[1]`, or inside an `or`,
   `...allow[0].or[1]`) and the reason codes of the criteria that decided.
3. nothing holds: refused, rule None, reasons `policy-no-match` followed by the
   failure codes of the allow rules (what was missing, for the denied page).
   `identity_needed` is True when some allow rule could not be decided for lack
   of an identity: logging in may change the answer, so the caller answers
   `login`, never 403 (STYLE.md lesson 2).
Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from authgate.identity import Identity
from authgate.policy import reasons
from authgate.policy.verdict import NO, UNKNOWN_USER, YES, Evaluator

PolicySource = Literal["route", "audience"]


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """What a policy may look at: request facts, identity and signals, as plain data."""

    method: str
    path: str  # normalized (authgate.routing.normalize_path)
    client_ip: str
    now: float  # wall clock, epoch seconds
    identity: Identity | None
    country: str | None = None  # ISO 3166-1 alpha-2, None when unknown
    device: Mapping[str, Any] | None = None
    risk: float | None = None
    consent_claim: str = "consents"  # dotted path of the consent claim
    # Entitlements held on this route now -> grant id; None: not read (or unreadable).
    grants: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PolicyResult:
    allowed: bool
    rule: str | None
    reasons: tuple[str, ...]
    identity_needed: bool = False


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A route's policy, compiled once at load (`authgate.policy.compile`)."""

    route_id: str
    allow: tuple[Evaluator, ...]
    deny: tuple[Evaluator, ...]
    source: PolicySource  # written on the route, or the audience's default
    # The entitlements its `entitlement:` criteria name: grants are read only when
    # this is not empty, so other routes pay nothing for privileged access.
    entitlements: frozenset[str] = frozenset()


def evaluate(policy: CompiledPolicy, inp: PolicyInput) -> PolicyResult:
    login: PolicyResult | None = None
    for rule in policy.deny:
        state, found, path = rule.check(inp)
        if state == NO:
            continue
        if state != UNKNOWN_USER:
            return PolicyResult(False, path, found)
        if login is None:
            login = PolicyResult(False, path, found, identity_needed=True)
    if login is not None:
        return login
    return _allow(policy.allow, inp)


def _allow(rules: tuple[Evaluator, ...], inp: PolicyInput) -> PolicyResult:
    failed: list[str] = [reasons.POLICY_NO_MATCH]
    identity_needed = False
    for rule in rules:
        state, found, path = rule.check(inp)
        if state == YES:
            return PolicyResult(True, path, found)
        identity_needed = identity_needed or state == UNKNOWN_USER
        failed.extend(found)
    return PolicyResult(False, None, tuple(dict.fromkeys(failed)), identity_needed)
