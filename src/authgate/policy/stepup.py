"""Step-up, just-in-time elevation and consent: pure checks before and after a login.

Contract:
- `step_up_needed(rules, identity, path, now)` -> the first `StepUpNeed` among the
  route's step-up rules (file order) covering the normalized `path` that the
  identity falls short of: `acr` differs from the one required (exact: acr values
  are opaque), a required `amr` method is missing (every listed one is required),
  or the login is older than `max_age` — or its time is unknown. No identity at all
  falls short of every rule. Just-in-time elevation is the `max_age` case: once it
  passes, the next request to a covered path steps up again, while paths no rule
  covers keep working on the same session.
- `check_step_up_result(need, token, login_started_at, leeway)` checks what the
  provider sent back (the new ID token's claims, or the identity made from them).
  `acr_values` and `max_age` are only requests a provider may ignore (OIDC Core
  §3.1.2.1, §5.5.1.1), so the answer is checked: `auth_time` must be present and no
  older than the start of this login (minus `leeway` for clock skew) — the gateway
  always sends `prompt=login`, and a stale `auth_time` means the provider reused
  an old session (OIDC Core §2 `auth_time`, required when `max_age` is sent);
  `acr` must equal the one asked; `amr` must hold every method asked. Returns
  `step-up-failed` or None.
- `consent_missing(config, identity)`: the route requires consents the identity's
  consent claim lacks (read as `authgate.policy.criteria.consent.consents_of`).
Pure module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authgate.config.schema_policy import ConsentConfig
from authgate.identity import Identity
from authgate.policy import reasons
from authgate.policy.criteria.consent import consents_of
from authgate.routing import GlobMatcher


@dataclass(frozen=True, slots=True)
class StepUpRule:
    """One compiled `step_up` block (`authgate.policy.compile.compile_step_up`)."""

    rule: str  # routes[hr].step_up[0]
    paths: tuple[GlobMatcher, ...] | None  # None: every path of the route
    acr: str | None
    amr: tuple[str, ...]
    max_age: float | None

    def covers(self, path: str) -> bool:
        if self.paths is None:
            return True
        for glob in self.paths:
            if glob.matches(path):
                return True
        return False


@dataclass(frozen=True, slots=True)
class StepUpNeed:
    """What the next login must bring: sent as acr_values / max_age / prompt=login."""

    acr: str | None
    amr: tuple[str, ...]
    max_age: float | None
    rule: str
    reason: str  # acr-insufficient, amr-insufficient, auth-age-expired, user-unauthenticated


def step_up_needed(
    rules: tuple[StepUpRule, ...], identity: Identity | None, path: str, now: float
) -> StepUpNeed | None:
    for rule in rules:
        if rule.covers(path):
            reason = _shortfall(rule, identity, now)
            if reason is not None:
                return StepUpNeed(rule.acr, rule.amr, rule.max_age, rule.rule, reason)
    return None


def _shortfall(rule: StepUpRule, identity: Identity | None, now: float) -> str | None:
    if identity is None:
        return reasons.USER_UNAUTHENTICATED
    if rule.acr is not None and identity.acr != rule.acr:
        return reasons.ACR_INSUFFICIENT
    if not set(rule.amr).issubset(identity.amr):
        return reasons.AMR_INSUFFICIENT
    if rule.max_age is not None and not _fresh(identity.auth_time, now - rule.max_age):
        return reasons.AUTH_AGE_EXPIRED
    return None


def _fresh(auth_time: float | None, not_before: float) -> bool:
    return auth_time is not None and auth_time >= not_before


def check_step_up_result(
    need: StepUpNeed,
    token: Identity | Mapping[str, Any],
    login_started_at: float,
    leeway: float,
) -> str | None:
    acr, amr, auth_time = _authentication(token)
    if not _fresh(auth_time, login_started_at - leeway):
        return reasons.STEP_UP_FAILED
    if need.acr is not None and acr != need.acr:
        return reasons.STEP_UP_FAILED
    if not set(need.amr).issubset(amr):
        return reasons.STEP_UP_FAILED
    return None


def _authentication(
    token: Identity | Mapping[str, Any],
) -> tuple[str | None, tuple[str, ...], float | None]:
    """(acr, amr, auth_time) from an identity or raw claims, ill-typed values dropped."""
    if isinstance(token, Identity):
        return token.acr, token.amr, token.auth_time
    acr = token.get("acr")
    amr = token.get("amr")
    auth_time = token.get("auth_time")
    return (
        acr if isinstance(acr, str) else None,
        tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else (),
        _epoch(auth_time),
    )


def _epoch(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer too large for a float
        return None
    return number if math.isfinite(number) else None


def consent_missing(config: ConsentConfig | None, identity: Identity) -> bool:
    if config is None:
        return False
    return not set(config.require).issubset(consents_of(identity.claims, config.claim))
