"""Verification of a Security Event Token (RFC 8417, as SSF 1.0 §4 profiles it).

Contract: `validate_set(token, jwks, ...)` returns the SET's claims or raises
`TokenInvalid` with a reason from `oidc.errors`; `push_error(reason)` is the RFC 8935
§2.4 `err` code a push answers that reason with. The JOSE part is `oidc.tokens`'s
(alg allow-list before any key is looked up, the one key the JWKS picks, pyjwt for the
signature); the claim checks are here, against the injected `now`:

- `typ` must be `secevent+jwt` (RFC 8417 §2.3, required by SSF 1.0): explicit typing
  stops an ID token, access token or logout token from passing as a SET and a SET
  from passing as one of those (RFC 8725 §3.11). `require_typ=False` accepts a SET
  without `typ`, for transmitters older than SSF 1.0; another `typ` is still refused.
- `iss` equal to the transmitter's issuer (exact); `aud` names `audience`.
- `iat` REQUIRED (RFC 8417 §2.2), not in the future beyond `leeway`, not older than
  `max_age`: an old SET is not acted on, and its `jti` need only be remembered for
  that long. `exp` is not expected (RFC 8417 §2.2: SETs omit it) but honoured.
- `jti` REQUIRED: the caller refuses a replay with `store.remember_once`.
- `events` a non-empty object whose every value is an object (RFC 8417 §2.2).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from authgate.oidc.errors import TokenInvalid
from authgate.oidc.jwks import JwksCache
from authgate.oidc.tokens import (
    _audiences,
    _check_issuer,
    _check_times,
    _required_number,
    _required_string,
    _verified_claims,
)

_SET_TYPES = frozenset({"secevent+jwt", "application/secevent+jwt"})
_MAX_EVENTS = 16  # bounded work per SET

# RFC 8935 §2.4 error codes, by the reason the SET was refused for.
_PUSH_ERRORS: Mapping[str, str] = {
    "token-alg-not-allowed": "invalid_key",
    "token-signature-invalid": "invalid_key",
    "token-kid-unknown": "invalid_key",
    "token-kid-missing": "invalid_key",
    "token-issuer-invalid": "invalid_issuer",
    "token-audience-invalid": "invalid_audience",
    "signal-authentication-failed": "authentication_failed",
}


def push_error(reason: str) -> str:
    """The RFC 8935 `err` for `reason`; anything else is `invalid_request`."""
    return _PUSH_ERRORS.get(reason, "invalid_request")


async def validate_set(
    token: str,
    jwks: JwksCache,
    *,
    issuer: str,
    audience: str,
    algorithms: Collection[str],
    leeway: float,
    max_age: float,
    now: float,
    require_typ: bool = True,
) -> dict[str, Any]:
    types = _SET_TYPES if require_typ else _SET_TYPES | {None}
    claims = await _verified_claims(token, jwks, algorithms, types)
    _check_issuer(claims, issuer)
    if audience not in _audiences(claims):
        raise TokenInvalid("token-audience-invalid")
    iat = _required_number(claims, "iat")
    _check_times(claims, now, leeway)  # a future iat, an exp or nbf passed
    if iat < now - max_age - leeway:
        raise TokenInvalid("token-expired", "iat older than signals.max_age")
    _required_string(claims, "jti")
    _check_events(claims)
    return claims


def _check_events(claims: Mapping[str, Any]) -> None:
    events = claims.get("events")
    if events is None:
        raise TokenInvalid("token-claim-missing", "events")
    if not isinstance(events, dict) or not events or len(events) > _MAX_EVENTS:
        raise TokenInvalid("token-events-invalid")
    if not all(isinstance(payload, dict) for payload in events.values()):
        raise TokenInvalid("token-events-invalid", "an event payload is not an object")
