"""What a refresh must prove, and the identity it leaves (OpenID Core §12.2).

Contract: `original_claims(session)` reads the claims of the session's stored ID
token (validated at login or at the last refresh; read without a signature check:
it came from the store, encrypted at rest, not from a client). `reasserted(old,
claims, config, id_token)` is the session's identity rebuilt from freshly validated
`claims` (a refreshed ID token's, merged with userinfo when configured): groups,
roles, email, name and every other claim are the provider's new word; `acr`, `amr`
and `auth_time` come only from a new ID token that asserts them again (userinfo can
never set them, `merge_userinfo`), else the session keeps the values of its login —
a refresh is not a new authentication, and a provider that re-asserts a lower `acr`
downgrades it. `change(old, new)` names what a re-verification changed:
`groups-changed` (groups or roles: what policies most often hang on),
`identity-changed` (anything else), or None. No network or store: pyjwt only reads
the stored token's payload.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jwt

from authgate.config.schema_auth import ProviderConfig
from authgate.decision import Reason
from authgate.identity import Identity
from authgate.oidc.claims import identity_from_claims
from authgate.oidc.errors import TokenInvalid
from authgate.sessions.model import Session

_LOGIN_FACTS = ("acr", "amr", "auth_time")


def original_claims(session: Session) -> dict[str, Any]:
    token = session.tokens.id_token
    if not token:
        raise TokenInvalid("token-claim-missing", "the session holds no ID token to compare with")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenInvalid("token-malformed", "the session's ID token") from None
    if not isinstance(claims, dict):
        raise TokenInvalid("token-malformed", "the session's ID token")
    return claims


def reasserted(
    old: Identity,
    claims: Mapping[str, Any],
    config: ProviderConfig,
    id_token: Mapping[str, Any] | None,
) -> Identity:
    identity = identity_from_claims(
        claims,
        provider_id=config.id,
        mapping=config.claims,
        credential="session",
        session_id=old.session_id,
        email_verified=config.email_verified,
    )
    kept = {
        name: getattr(old, name)
        for name in _LOGIN_FACTS
        if id_token is None or name not in id_token
    }
    return dataclasses.replace(identity, **kept) if kept else identity


def change(old: Identity, new: Identity) -> Reason | None:
    if (old.groups, old.roles, old.mistyped) != (new.groups, new.roles, new.mistyped):
        return Reason.GROUPS_CHANGED
    if old != new:
        return Reason.IDENTITY_CHANGED
    return None
