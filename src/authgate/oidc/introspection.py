"""Opaque access tokens: RFC 7662 introspection answers, checked and cached.

Contract:

* `looks_like_jwt(token)` — the token has the JWS compact shape (three base64url
  segments, a JSON header with `alg`): how `access_tokens: auto` tells a JWT (RFC
  9068, validated locally) from an opaque token (introspected). Shape only: a token
  that looks like a JWT is still validated in full.
* `IntrospectionCache` — bounded (`cache_size` entries, the least recently used go
  first) and short: an active answer is kept `cache_ttl` at most and never past the
  token's `exp`; an inactive one `negative_ttl`. Keyed by SHA-256 of the token, never
  the token: a heap dump or a debugger shows no credential. Per process: a revoked
  token is refused everywhere within `cache_ttl` (RFC 7662 §4 trades exactly this).
* `check_answer(answer, issuer, audiences, now, leeway)` — the claims of an active
  answer, held to what a JWT access token is held to (RFC 9068 §4): `active` true
  (else `token-inactive`), `iss` the provider's when present, `exp` / `nbf` in range
  when present, an `aud` naming one of the route's audiences (REQUIRED here, as for
  JWTs: a token for another resource server is not ours to accept), and a subject —
  `sub`, or for a client-credentials token without one, `client_id` (RFC 9068 §2.2:
  the client is the subject then).
Pure module apart from hashlib: no aiohttp, no jwt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from authgate.config.schema_client import IntrospectionConfig
from authgate.oidc.errors import TokenInvalid


def looks_like_jwt(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str)


def token_key(token: str) -> str:
    """The cache key of a token: its SHA-256, hex (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    claims: Mapping[str, Any] | None  # None: not active
    until: float


class IntrospectionCache:
    def __init__(self, config: IntrospectionConfig) -> None:
        self._config = config
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: float) -> tuple[bool, Mapping[str, Any] | None]:
        """(found, claims): claims None for a cached "not active"."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry.until <= now:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry.claims

    def put(self, key: str, claims: Mapping[str, Any] | None, now: float) -> None:
        if claims is None:
            until = now + self._config.negative_ttl
        else:
            until = now + self._config.cache_ttl
            exp = _time(claims.get("exp"))
            if exp is not None:
                until = min(until, exp)  # never past the token's own expiry
        if until <= now:
            return
        self._entries[key] = _Entry(claims, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self._config.cache_size:
            self._entries.popitem(last=False)


def check_answer(
    answer: Mapping[str, Any],
    *,
    issuer: str,
    audiences: Collection[str],
    now: float,
    leeway: float,
) -> dict[str, Any]:
    """The claims of an active introspection answer (see the module doc)."""
    if answer.get("active") is not True:
        raise TokenInvalid("token-inactive")
    claims = dict(answer)
    iss = claims.get("iss")
    if iss is not None and iss != issuer:
        raise TokenInvalid("token-issuer-invalid", f"iss {iss!r}")
    exp, nbf = _time(claims.get("exp")), _time(claims.get("nbf"))
    if exp is not None and exp <= now - leeway:
        raise TokenInvalid("token-expired")
    if nbf is not None and nbf > now + leeway:
        raise TokenInvalid("token-not-yet-valid")
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not set(audiences).intersection(a for a in named if isinstance(a, str)):
        raise TokenInvalid("token-audience-invalid", "no aud of this route")
    subject = claims.get("sub") or claims.get("client_id")
    if not isinstance(subject, str) or not subject:
        raise TokenInvalid("token-claim-missing", "neither sub nor client_id")
    claims["sub"] = subject
    return claims


def _time(value: object) -> float | None:
    """A NumericDate (RFC 7519 §2), or None when absent or not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
