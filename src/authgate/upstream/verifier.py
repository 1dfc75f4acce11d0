"""Verify the gateway's `X-Authgate-Assertion` inside an upstream app.

Contract: `await AssertionVerifier(jwks_url, audience="hr").verify(token)` returns the
claims of a valid assertion or raises `AssertionInvalid(reason)` with a reason from a
closed set (`REASONS`). Valid means: header `alg` is ES256 — never `none`, never HMAC,
whatever the token says (RFC 8725 §3.1; the HS256-with-the-public-key forgery is
CVE-2015-9235) — the `kid` names a key of the gateway's JWKS, the signature verifies,
`iss` and `aud` match, and `exp`, `iat`, `aud`, `iss`, `sub` are present with
`exp`/`iat`/`nbf` within `leeway` seconds of skew.

Keys: fetched from `jwks_url` on first use and cached. An unknown `kid` (the gateway
rotated its key) triggers a refetch, at most once per `refetch_interval` however many
requests carry it — a forged kid must not turn the app into a JWKS-fetching amplifier.
The whole set is refreshed after `max_age` so a key the gateway retired stops being
trusted; if that refresh fails the known keys stay in use. Static `jwks=` needs no
network at all.

Cost: an ES256 verification through pyjwt takes ~150 µs. The gateway reuses an
assertion for half its lifetime, so the claims of the last `cache_size` verified tokens
are kept by exact token text; a hit re-checks only `exp` (the signature, `iss`, `aud`
and `nbf` cannot change for the same bytes). The cache is cleared whenever the JWKS is
refetched, so a retired key stops being honoured.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.upstream.jwks import JwksError, es256_keys, fetch_jwks

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
REQUIRED_CLAIMS = ("exp", "iat", "aud", "iss", "sub")
MAX_TOKEN_CHARS = 16 * 1024
REASONS = frozenset(
    {
        "missing",
        "multiple",
        "malformed",
        "algorithm-not-allowed",
        "unknown-kid",
        "jwks-unavailable",
        "bad-signature",
        "expired",
        "not-yet-valid",
        "wrong-audience",
        "wrong-issuer",
        "missing-claim",
        "invalid",
    }
)

# Most specific first: pyjwt's exceptions subclass each other.
_REASON_BY_ERROR: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidAudienceError, "wrong-audience"),
    (jwt.InvalidIssuerError, "wrong-issuer"),
    (jwt.MissingRequiredClaimError, "missing-claim"),
    (jwt.InvalidSignatureError, "bad-signature"),
    (jwt.InvalidAlgorithmError, "algorithm-not-allowed"),
    (jwt.DecodeError, "malformed"),
)


class AssertionInvalid(Exception):
    """The assertion is missing or not valid; `reason` is one of `REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class AssertionVerifier:
    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        jwks: Mapping[str, Any] | None = None,
        issuer: str = "authgate",
        audience: str,
        leeway: float = 30,
        header: str = "X-Authgate-Assertion",
        refetch_interval: float = 60,
        max_age: float = 3600,
        timeout: float = 5.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if jwks_url is None and jwks is None:
            raise ValueError("give jwks_url (the gateway's /.authgate/jwks.json) or jwks")
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.header = header
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self.timeout = timeout
        self.fetch_count = 0  # observable for tests and metrics
        self._clock = clock
        self._keys = es256_keys(jwks) if jwks is not None else {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self._cache_size = cache_size
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid assertion; raise AssertionInvalid otherwise."""
        claims = self._recall(token)
        if claims is None:
            claims = await self._verify(token)
            self._remember(token, claims)
        return copy.deepcopy(claims)  # the caller may change it; the cache must not

    async def _verify(self, token: str) -> dict[str, Any]:
        kid = _checked_header(token)
        key = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidTokenError as exc:
            raise AssertionInvalid(_reason(exc), str(exc)) from exc
        return claims

    def _recall(self, token: str) -> dict[str, Any] | None:
        claims = self._verified.get(token)
        if claims is None:
            return None
        if time.time() >= claims["exp"] + self.leeway:  # the same rule as pyjwt's
            del self._verified[token]
            raise AssertionInvalid("expired")
        self._verified.move_to_end(token)
        return claims

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        if self._cache_size <= 0:
            return
        self._verified[token] = claims
        while len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)

    async def _key(self, kid: str) -> ec.EllipticCurvePublicKey:
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        async with self._lock:  # concurrent requests share one fetch
            key = self._keys.get(kid)
            url = self._fetchable_url()
            if (key is None or self._stale()) and url is not None:
                fetched = await self._refresh(url)
                key = self._keys.get(kid)
                if key is None and not fetched:
                    raise AssertionInvalid("jwks-unavailable", str(self.jwks_url))
        if key is None:
            raise AssertionInvalid("unknown-kid", kid)
        return key

    def _stale(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at >= self.max_age

    def _fetchable_url(self) -> str | None:
        """The JWKS URL if a fetch is allowed now (once per refetch_interval)."""
        last = self._attempted_at
        if last is not None and self._clock() - last < self.refetch_interval:
            return None
        return self.jwks_url

    async def _refresh(self, url: str) -> bool:
        self._attempted_at = self._clock()
        self.fetch_count += 1
        try:
            jwks = await fetch_jwks(url, timeout=self.timeout)
        except JwksError as exc:
            log.warning("cannot refresh the gateway JWKS: %s", exc)
            return False
        self._keys = es256_keys(jwks)
        self._verified.clear()
        self._fetched_at = self._attempted_at
        return True


def _checked_header(token: str) -> str:
    """The kid of a token whose header names ES256; raise before any key lookup."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise AssertionInvalid("malformed", "empty or oversized token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise AssertionInvalid("malformed", str(exc)) from exc
    if header.get("alg") != ALGORITHM:
        raise AssertionInvalid("algorithm-not-allowed", repr(header.get("alg")))
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AssertionInvalid("malformed", "no kid in the header")
    return kid


def _reason(exc: jwt.InvalidTokenError) -> str:
    return next((r for t, r in _REASON_BY_ERROR if isinstance(exc, t)), "invalid")
