"""The upstream assertion: a short-lived ES256 JWT minted for each forwarded request.

Contract: `AssertionSigner(keys).sign(identity, audience=route id, now, ttl, request_id)`
returns a compact JWS (`alg: ES256`, `typ: JWT`, `kid` = RFC 7638 thumbprint of the
signing key) with `iss`, `sub`, `aud`, `iat`, `nbf`, `exp`, `jti`, `provider` and the
identity claims that are not empty (`email`, `name`, `preferred_username`, `groups`,
`roles`, `acr`, `amr`). It never contains the gateway session id. The key file API
(`AssertionKeys`, `rotate_key_file`, `AssertionKeyError`) lives in `assertion_keys`
and is re-exported here.

Signing cost and reuse: one ES256 signature through pyjwt costs ~50-80 µs on the
reference 2-core machine, a visible share of the DESIGN's per-request budget, while a
reuse costs ~1-3 µs. So the signer reuses a token for the same identity content,
audience and ttl while more than half of its lifetime remains (`reuse_fraction`), in
an LRU of `cache_size` entries (0 disables it). Consequences an upstream can see: the
`jti` repeats across requests within the reuse window (it names a minting, not a
request — do not use it for replay detection), and `iat` may be up to ttl/2 old. A
change in groups, roles or any other signed claim is a different cache key, so a
refreshed identity never gets a stale assertion. `request_id` is not a claim (a reused
token would carry the wrong one; the request id travels in `X-Request-Id`); it is
logged at debug level with the `jti` of each minting, to correlate the two.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import jwt

from authgate.identity import Identity
from authgate.mutate.assertion_keys import (
    ALGORITHM,
    AssertionKey,
    AssertionKeyError,
    AssertionKeys,
    rotate_key_file,
)

__all__ = [
    "ALGORITHM",
    "AssertionKey",
    "AssertionKeyError",
    "AssertionKeys",
    "AssertionSigner",
    "rotate_key_file",
]

log = logging.getLogger(__name__)


class AssertionSigner:
    """Mints the per-request assertion; see the module docstring for the reuse cache."""

    def __init__(
        self,
        keys: AssertionKeys,
        issuer: str = "authgate",
        *,
        cache_size: int = 10_000,
        reuse_fraction: float = 0.5,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self._cache_size = cache_size
        self._reuse_fraction = reuse_fraction
        self._cache: OrderedDict[Hashable, tuple[str, float, float]] = OrderedDict()

    def sign(
        self, identity: Identity, *, audience: str, now: float, ttl: float, request_id: str
    ) -> str:
        key = (audience, ttl, *_signed_content(identity))
        cached = self._cached(key, now)
        if cached is not None:
            return cached
        token = self._mint(identity, audience=audience, now=now, ttl=ttl, request_id=request_id)
        self._remember(key, token, now, now + ttl * (1 - self._reuse_fraction))
        return token

    def _mint(
        self, identity: Identity, *, audience: str, now: float, ttl: float, request_id: str
    ) -> str:
        claims = _claims(identity, issuer=self.issuer, audience=audience, now=now, ttl=ttl)
        signing = self.keys.signing
        headers = {"kid": signing.kid, "typ": "JWT"}
        token = jwt.encode(claims, signing.private_key, algorithm=ALGORITHM, headers=headers)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("assertion jti=%s minted for request_id=%s", claims["jti"], request_id)
        return token

    def _cached(self, key: Hashable, now: float) -> str | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        token, minted, reuse_until = entry
        # A clock that stepped backwards must not reuse a token "from the future".
        if not minted <= now < reuse_until:
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return token

    def _remember(self, key: Hashable, token: str, now: float, reuse_until: float) -> None:
        if self._cache_size <= 0:
            return
        self._cache[key] = (token, now, reuse_until)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _signed_content(identity: Identity) -> tuple[Hashable, ...]:
    """Everything that ends up in the token: the cache key's identity part."""
    i = identity
    return (i.subject, i.provider, i.verified_email, i.name, i.username, i.groups, i.roles, i.acr, i.amr)


def _claims(
    identity: Identity, *, issuer: str, audience: str, now: float, ttl: float
) -> dict[str, Any]:
    issued = int(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": identity.subject,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": int(now + ttl),
        "jti": secrets.token_urlsafe(16),
        "provider": identity.provider,
    }
    optional: dict[str, Any] = {
        "email": identity.verified_email,  # never an unverified one (nOAuth)
        "name": identity.name,
        "preferred_username": identity.username,
        "groups": list(identity.groups),
        "roles": list(identity.roles),
        "acr": identity.acr,
        "amr": list(identity.amr),
    }
    claims.update({k: v for k, v in optional.items() if v})
    return claims
