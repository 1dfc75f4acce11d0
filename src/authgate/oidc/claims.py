"""Validated claims -> `Identity`, through the provider's dotted-path claim mapping.

Contract:
- `claim_at(claims, "realm_access.roles")` walks nested objects by dots. A literal key
  that contains dots wins when present, because providers publish namespaced claims
  such as `https://example.com/roles` (Auth0) that would otherwise be unreachable.
- `identity_from_claims(...)` builds the `Identity`. It trusts its input: call it only
  with claims that passed `authgate.oidc.tokens` (merged with userinfo, if any).
- groups/roles: a JSON list (its string items; others are dropped) or a single string,
  which is ONE value — never split on spaces or commas, since group names contain
  them ("Domain Users", "CN=hr,OU=groups,DC=corp"). Anything else counts as none.
- email_verified: a JSON boolean, or the strings "true"/"false" (AWS Cognito sends
  strings); anything else is unknown (None).
- `Identity.claims` keeps the claims minus protocol bookkeeping (`DROPPED_CLAIMS`);
  `iss` stays (templates and logs may name the issuer).
Pure module: no aiohttp or jwt imports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from authgate.config.schema_auth import ClaimsMapping
from authgate.identity import CredentialKind, Identity
from authgate.oidc.errors import TokenInvalid

# Token plumbing, not facts about the user: kept out of policies and header templates.
DROPPED_CLAIMS = frozenset(
    {"iat", "exp", "nbf", "nonce", "at_hash", "c_hash", "s_hash", "jti", "aud", "azp", "sid"}
)
_MISSING = object()


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None when any step is missing."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for step in path.split("."):
        value = value.get(step, _MISSING) if isinstance(value, Mapping) else _MISSING
        if value is _MISSING:
            return None
    return value


def identity_from_claims(
    claims: Mapping[str, Any],
    *,
    provider_id: str,
    mapping: ClaimsMapping,
    credential: CredentialKind,
    session_id: str | None = None,
) -> Identity:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenInvalid("token-claim-missing", "sub")
    return Identity(
        subject=subject,
        provider=provider_id,
        credential=credential,
        email=_string(claim_at(claims, mapping.email)),
        email_verified=_boolean(claims.get("email_verified")),
        name=_string(claim_at(claims, mapping.name)),
        username=_string(claim_at(claims, mapping.username)),
        groups=_strings(claim_at(claims, mapping.groups)),
        roles=_strings(claim_at(claims, mapping.roles)),
        acr=_string(claims.get("acr")),
        amr=_strings(claims.get("amr")),
        auth_time=_time(claims.get("auth_time")),
        session_id=session_id,
        claims={k: v for k, v in claims.items() if k not in DROPPED_CLAIMS},
    )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _time(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
