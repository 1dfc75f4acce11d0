"""Validation of the three JWTs the gateway accepts: ID, bearer access, logout tokens.

Contract: each `validate_*` returns the token's claims, or raises `TokenInvalid` with a
reason from `errors.TokenReason`. pyjwt does only the JOSE part (signature with the one
key the JWKS picked); every claim check is ours, against the injected `now` (epoch
seconds) with `leeway` seconds of clock skew, so the rules are visible in one place
and testable without sleeping.

Order (RFC 8725 §3.1): the header's `alg` is checked against the allow-list BEFORE any
key is looked up — `none` and HMAC are refused whatever the configuration says, which
stops the `alg: none` and "HS256 keyed with the RSA public key" forgeries
(CVE-2015-9235 class). Then the key (by `kid`, see jwks.py), the signature, the
payload, and the claims of the token's kind.

Required claims missing -> `token-claim-missing` (detail names the claim); present but
of the wrong JSON type -> `token-malformed`.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Collection, Mapping
from typing import Any

from jwt import PyJWS, get_unverified_header
from jwt.exceptions import InvalidAlgorithmError, InvalidSignatureError, PyJWTError

from authgate.config.schema_types import ALLOWED_ALGORITHMS
from authgate.oidc.errors import TokenInvalid
from authgate.oidc.jwks import JwksCache

__all__ = [
    "TokenInvalid",
    "validate_access_token",
    "validate_id_token",
    "validate_logout_token",
    "validate_refreshed_id_token",
]

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# RFC 8725 §3.11 explicit typing: a token typed for another use is refused, so an
# access token or logout token can never pass as an ID token and vice versa.
_ID_TOKEN_TYPES = frozenset({None, "jwt"})
_ACCESS_TOKEN_TYPES = frozenset({None, "jwt", "at+jwt", "application/at+jwt"})  # RFC 9068 §2.1
_LOGOUT_TOKEN_TYPES = frozenset({None, "jwt", "logout+jwt"})  # Back-Channel Logout §2.4
_JWS = PyJWS()


async def validate_id_token(
    token: str,
    jwks: JwksCache,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: Collection[str],
    leeway: float,
    now: float,
) -> dict[str, Any]:
    """OIDC Core §3.1.3.7 (ID token from the token endpoint, code flow)."""
    claims = await _verified_claims(token, jwks, algorithms, _ID_TOKEN_TYPES)
    _check_issuer(claims, issuer)  # §3.1.3.7 item 2
    _check_client_audience(claims, client_id)  # items 3-5
    _required_number(claims, "exp")  # §2: exp and iat are REQUIRED
    _required_number(claims, "iat")
    _check_times(claims, now, leeway)  # items 9-10
    _check_nonce(claims, nonce)  # item 11
    _required_string(claims, "sub")  # §2: sub is REQUIRED
    return claims


async def validate_refreshed_id_token(
    token: str,
    jwks: JwksCache,
    *,
    issuer: str,
    client_id: str,
    original: Mapping[str, Any],
    algorithms: Collection[str],
    leeway: float,
    now: float,
) -> dict[str, Any]:
    """OIDC Core §12.2: an ID token from a refresh is validated as at login (the
    signature, `iss`, `aud`/`azp`, `exp`, `iat`) and must be about the same login as
    `original`, the claims of the session's ID token: the same `iss`, `sub`, `aud`
    and `azp` (an `azp` only where the original had one). A refreshed token "SHOULD
    NOT" carry a nonce; one that does must carry the original's (some providers
    repeat it), never another. Mismatches raise `TokenInvalid` with the claim's
    reason (`token-subject-mismatch` for `sub`), so the caller ends the session."""
    claims = await _verified_claims(token, jwks, algorithms, _ID_TOKEN_TYPES)
    _check_issuer(claims, issuer)
    _check_client_audience(claims, client_id)
    _required_number(claims, "exp")
    _required_number(claims, "iat")  # §12.2: the time this token was issued
    _check_times(claims, now, leeway)
    subject = _required_string(claims, "sub")
    if claims.get("iss") != original.get("iss"):
        raise TokenInvalid("token-issuer-invalid", "not the original login's issuer")
    if subject != original.get("sub"):
        raise TokenInvalid("token-subject-mismatch", "not the original login's subject")
    if sorted(_audiences(claims)) != sorted(_audiences(original)):
        raise TokenInvalid("token-audience-invalid", "not the original login's audience")
    if claims.get("azp") != original.get("azp"):
        raise TokenInvalid("token-azp-invalid", "not the original login's azp")
    if "nonce" in claims and claims["nonce"] != original.get("nonce"):
        raise TokenInvalid("token-nonce-invalid", "a nonce other than the login's")
    return claims


async def validate_access_token(
    token: str,
    jwks: JwksCache,
    *,
    issuer: str,
    audiences: Collection[str],
    algorithms: Collection[str],
    leeway: float,
    now: float,
) -> dict[str, Any]:
    """A bearer JWT for an API route (RFC 9068 profile; `exp` and `iat` required).

    `typ: at+jwt` (RFC 9068 §2.1) is accepted but not required — many providers issue
    plain `JWT` access tokens — while other explicit types (`logout+jwt`...) are
    refused. `aud` must name one of `audiences` (RFC 9068 §4): the audiences are API
    identifiers, so configuring a client_id there would accept ID tokens as bearers.
    """
    claims = await _verified_claims(token, jwks, algorithms, _ACCESS_TOKEN_TYPES)
    _check_issuer(claims, issuer)
    if not set(_audiences(claims)) & set(audiences):
        raise TokenInvalid("token-audience-invalid")
    # RFC 9068 §2.2: exp and iat are REQUIRED. Without iat a token's age is unknown,
    # and a future iat (a clock-skewed or forged issuer) is token-iat-invalid.
    _required_number(claims, "exp")
    _required_number(claims, "iat")
    _check_times(claims, now, leeway)
    _required_string(claims, "sub")  # the identity's subject
    return claims


async def validate_logout_token(
    token: str,
    jwks: JwksCache,
    *,
    issuer: str,
    client_id: str,
    algorithms: Collection[str],
    leeway: float,
    now: float,
) -> dict[str, Any]:
    """Back-Channel Logout 1.0 §2.6 (with errata set 1, where `exp` is REQUIRED).

    Replay (`jti`, step 8) is the caller's check against the store, keyed by
    (iss, jti) and kept until `exp`; so is matching `sid`/`sub` to sessions (step 9).
    """
    claims = await _verified_claims(token, jwks, algorithms, _LOGOUT_TOKEN_TYPES)  # 2-3
    _check_issuer(claims, issuer)  # 4
    _check_client_audience(claims, client_id)  # 4
    _required_number(claims, "exp")  # 4 (§2.4: exp and iat are REQUIRED)
    _required_number(claims, "iat")
    _check_times(claims, now, leeway)  # 4
    _check_logout_subject(claims)  # 5
    _check_events(claims)  # 6
    if "nonce" in claims:  # 7: refused, so an ID token can never pass as a logout token
        raise TokenInvalid("token-nonce-present")
    _required_string(claims, "jti")  # §2.4: jti is REQUIRED (replay detection)
    return claims


# ---------------------------------------------------------------- JOSE


async def _verified_claims(
    token: str, jwks: JwksCache, algorithms: Collection[str], types: frozenset[str | None]
) -> dict[str, Any]:
    header = _header(token)
    alg = _allowed_alg(header, algorithms)
    _check_type(header, types)
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenInvalid("token-malformed", "kid is not a string")
    key = await jwks.key_for(kid, alg)
    try:
        # The raw key with exactly one algorithm: the key was chosen for `alg` (jwks.py),
        # and this form verifies the same on every pyjwt 2.x.
        payload = _JWS.decode_complete(token, key=key.key, algorithms=[alg])["payload"]
    except InvalidSignatureError:
        raise TokenInvalid("token-signature-invalid") from None
    except InvalidAlgorithmError:
        raise TokenInvalid("token-alg-not-allowed") from None
    except PyJWTError as error:  # bad encoding, unsupported `crit`, ...
        raise TokenInvalid("token-malformed", str(error)) from None
    return _json_object(payload)


def _header(token: str) -> dict[str, Any]:
    try:
        return get_unverified_header(token)
    except PyJWTError:
        raise TokenInvalid("token-malformed", "header") from None


def _allowed_alg(header: Mapping[str, Any], algorithms: Collection[str]) -> str:
    # RFC 8725 §2.1, §3.1: the allow-list is ours; ALLOWED_ALGORITHMS (asymmetric only)
    # also bounds it, so no configuration mistake can enable `none` or HS*.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in ALLOWED_ALGORITHMS:
        raise TokenInvalid("token-alg-not-allowed", f"alg {alg!r}")
    return alg


def _check_type(header: Mapping[str, Any], types: frozenset[str | None]) -> None:
    typ = header.get("typ")
    if typ is not None and not isinstance(typ, str):
        raise TokenInvalid("token-malformed", "typ is not a string")
    if (typ.lower() if typ else None) not in types:
        raise TokenInvalid("token-type-invalid", f"typ {typ!r}")


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        raise TokenInvalid("token-malformed", "payload is not JSON") from None
    if not isinstance(claims, dict):
        raise TokenInvalid("token-malformed", "payload is not a JSON object")
    return claims


# ---------------------------------------------------------------- claims


def _check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    # Exact string comparison (Core §3.1.3.7 item 2): no normalization at all.
    iss = _required_string(claims, "iss")
    if iss != issuer:
        raise TokenInvalid("token-issuer-invalid")


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if aud is None:
        raise TokenInvalid("token-claim-missing", "aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise TokenInvalid("token-malformed", "aud")
    return audiences


def _check_client_audience(claims: Mapping[str, Any], client_id: str) -> None:
    # Core §3.1.3.7 item 3: our client_id must be an audience.
    audiences = _audiences(claims)
    if client_id not in audiences:
        raise TokenInvalid("token-audience-invalid")
    azp = claims.get("azp")
    # Items 4-5: with several audiences another party could have been the one the
    # token was issued to, so `azp` must be present and name us; a present azp must
    # name us in any case.
    if azp is None and len(audiences) > 1:
        raise TokenInvalid("token-azp-invalid", "several audiences and no azp")
    if azp is not None and azp != client_id:
        raise TokenInvalid("token-azp-invalid")


def _check_times(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    # Core §3.1.3.7 item 9: now must be before exp; RFC 7519 §4.1.5: and not before nbf.
    # Item 10: an iat from the future (beyond the skew) is refused. Whether each
    # claim is REQUIRED depends on the token kind and is checked by its validator.
    exp = _optional_number(claims, "exp")
    if exp is not None and now >= exp + leeway:
        raise TokenInvalid("token-expired")
    nbf = _optional_number(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise TokenInvalid("token-not-yet-valid")
    iat = _optional_number(claims, "iat")
    if iat is not None and iat > now + leeway:
        raise TokenInvalid("token-iat-invalid")


def _check_nonce(claims: Mapping[str, Any], nonce: str) -> None:
    # Core §3.1.3.7 item 11: the nonce we sent binds the ID token to this login
    # (replay and code-injection defence). Never skipped: the gateway always sends one.
    value = _required_string(claims, "nonce")
    if not hmac.compare_digest(value.encode(), nonce.encode()):
        raise TokenInvalid("token-nonce-invalid")


def _check_logout_subject(claims: Mapping[str, Any]) -> None:
    # Back-Channel Logout §2.6 step 5: sid or sub (or both) must be present.
    sid, sub = claims.get("sid"), claims.get("sub")
    if sid is None and sub is None:
        raise TokenInvalid("token-claim-missing", "sid or sub")
    for name, value in (("sid", sid), ("sub", sub)):
        if value is not None and not (isinstance(value, str) and value):
            raise TokenInvalid("token-malformed", name)


def _check_events(claims: Mapping[str, Any]) -> None:
    # Step 6: `events` holds the back-channel logout event, whose value is a JSON object.
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise TokenInvalid("token-events-invalid")


def _required_string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        raise TokenInvalid("token-claim-missing", name)
    if not isinstance(value, str) or not value:
        raise TokenInvalid("token-malformed", name)
    return value


def _required_number(claims: Mapping[str, Any], name: str) -> float:
    value = _optional_number(claims, name)
    if value is None:
        raise TokenInvalid("token-claim-missing", name)
    return value


def _optional_number(claims: Mapping[str, Any], name: str) -> float | None:
    # RFC 7519 §2 NumericDate: a finite JSON number. Python's json accepts `NaN`,
    # and `now >= NaN` is always false: a NaN exp would never expire.
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TokenInvalid("token-malformed", name)
    try:
        number = float(value)
    except OverflowError:
        raise TokenInvalid("token-malformed", name) from None
    if not math.isfinite(number):
        raise TokenInvalid("token-malformed", name)
    return number
