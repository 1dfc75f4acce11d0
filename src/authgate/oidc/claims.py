"""Validated claims -> `Identity`, through the provider's dotted-path claim mapping.

Contract:
- `claim_at(claims, "realm_access.roles")` walks nested objects by dots. A literal key
  that contains dots wins when present, because providers publish namespaced claims
  such as `https://example.com/roles` (Auth0) that would otherwise be unreachable.
- `identity_from_claims(...)` builds the `Identity`. It trusts its input: call it only
  with claims that passed `authgate.oidc.tokens` (merged with userinfo, if any).
- groups/roles: trusted as membership only as a JSON array of strings. Anything else
  that is present — a plain string, a number, an object, a boolean, an array holding
  a non-string — is a provider (or mapping) mistake we refuse to guess at: the
  identity holds no groups (roles) and names the claim in `Identity.mistyped`, so
  criteria on it answer `claim-type-mismatch` and no header or assertion carries it.
  A string is never split on spaces or commas ("Domain Users",
  "CN=hr,OU=groups,DC=corp") nor taken as one group: whether "admins users" means one
  group or two depends on a convention we cannot see. Absent or null: no groups.
- email_verified: True only for the JSON boolean `true`, False for `false`; anything
  else — the strings "true"/"false" (AWS Cognito), 1, absent — is unknown (None), and
  an unknown address never satisfies an email rule (nOAuth, Descope 2023). A provider
  configured `email_verified: assume` has every address taken as verified.
- `Identity.claims` keeps the claims minus protocol bookkeeping (`DROPPED_CLAIMS`);
  `iss` stays (templates and logs may name the issuer).
Pure module: no aiohttp or jwt imports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

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
    email_verified: Literal["strict", "assume"] = "strict",
) -> Identity:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenInvalid("token-claim-missing", "sub")
    groups = _membership(claim_at(claims, mapping.groups))
    roles = _membership(claim_at(claims, mapping.roles))
    return Identity(
        subject=subject,
        provider=provider_id,
        credential=credential,
        email=_string(claim_at(claims, mapping.email)),
        email_verified=(
            True if email_verified == "assume" else _boolean(claims.get("email_verified"))
        ),
        name=_string(claim_at(claims, mapping.name)),
        username=_string(claim_at(claims, mapping.username)),
        groups=groups or (),
        roles=roles or (),
        acr=_string(claims.get("acr")),
        amr=_strings(claims.get("amr")),
        auth_time=_time(claims.get("auth_time")),
        session_id=session_id,
        claims={k: v for k, v in claims.items() if k not in DROPPED_CLAIMS},
        mistyped=tuple(
            name for name, held in (("groups", groups), ("roles", roles)) if held is None
        ),
    )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _membership(value: Any) -> tuple[str, ...] | None:
    """Groups or roles from a JSON array of strings; None when the claim is present
    but of another shape (not trusted, see the module contract)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(v for v in value if v)


def _boolean(value: Any) -> bool | None:
    # JSON booleans only: `"true"` or `1` are a provider's sloppiness, not a statement.
    return value if isinstance(value, bool) else None


def _time(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
