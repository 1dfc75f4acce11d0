"""The provider's signing keys (JWKS), cached, with rotation handled by refetching.

Contract: `JwksCache(fetch).key_for(kid, alg)` returns the one key that may verify a
token whose header names `kid` and `alg`, or raises `TokenInvalid`:
- `token-kid-unknown`: no usable key has that kid, even after one refetch;
- `token-kid-missing`: the token names no kid and several keys could verify it — we
  never try keys one by one (each try is a signature oracle, and a JWKS with many keys
  makes every bad token cost many verifications);
- `token-alg-not-allowed`: the kid is known but its key is not for `alg`.
The caller has already checked `alg` against its allow-list (tokens.py).
`fetch` errors (`ProviderError`) propagate: "the provider is down" is not "the token
is bad".

Key selection (RFC 8725 §3.1, RFC 7517 §4): a key is usable for `alg` only if its
`use` is absent or `sig`, its `key_ops` (if any) include `verify`, its `alg` (if any)
equals `alg`, its `kty`/`crv` fit `alg` (RFC 7518 §3), it holds no private members and
RSA keys have at least 2048 bits (RFC 7518 §3.3). Keys of other kinds are skipped, not
errors: a JWKS may carry encryption keys or types we do not use.

Refetch: an unknown kid (a rotation at the provider) triggers one refetch, at most once
per `min_refetch_interval` seconds — a flood of tokens with made-up kids costs the
provider one request per interval — and concurrent callers share one in-flight fetch.
Until a first fetch succeeds there is no rate limit (callers still share the fetch),
so a provider that was down at start is used as soon as it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from jwt import PyJWK
from jwt.exceptions import PyJWTError

from authgate.oidc.errors import ProviderError, TokenInvalid

JwksFetch = Callable[[], Awaitable[Mapping[str, Any]]]

# RFC 7518 §3.1 / RFC 8037 §3.1: which key type (and curve) each algorithm needs.
_KEY_TYPES: dict[str, tuple[str, frozenset[str] | None]] = {
    **{alg: ("RSA", None) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS = 2048


class _Jwk:
    """One published key, with its verifier built lazily per algorithm."""

    __slots__ = ("_built", "data", "kid")

    def __init__(self, data: Mapping[str, Any]) -> None:
        kid = data.get("kid")
        self.kid = kid if isinstance(kid, str) else None
        self.data = dict(data)
        self._built: dict[str, PyJWK | None] = {}

    def verifier(self, alg: str) -> PyJWK | None:
        if alg not in self._built:
            self._built[alg] = _build(self.data, alg) if _fits(self.data, alg) else None
        return self._built[alg]


def _fits(data: Mapping[str, Any], alg: str) -> bool:
    kty, curves = _KEY_TYPES.get(alg, ("", None))
    key_ops = data.get("key_ops")
    return (
        data.get("kty") == kty
        and (curves is None or data.get("crv") in curves)
        and data.get("use", "sig") == "sig"
        and (key_ops is None or (isinstance(key_ops, list) and "verify" in key_ops))
        and data.get("alg", alg) == alg
        and not _PRIVATE_MEMBERS & data.keys()
    )


def _build(data: Mapping[str, Any], alg: str) -> PyJWK | None:
    try:
        key = PyJWK(dict(data), algorithm=alg)
    except PyJWTError:
        return None  # a malformed key is unusable, like a key of another type
    if data["kty"] == "RSA" and key.key.key_size < _MIN_RSA_BITS:
        return None
    return key


def _parse_jwks(document: Mapping[str, Any]) -> tuple[_Jwk, ...]:
    """The keys of a JWK Set (RFC 7517 §5); entries that are not objects are skipped."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ProviderError("provider-bad-response", "JWKS: no `keys` list")
    return tuple(_Jwk(k) for k in keys if isinstance(k, dict))


class JwksCache:
    def __init__(
        self,
        fetch: JwksFetch,
        *,
        min_refetch_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._interval = min_refetch_interval
        self._clock = clock
        self._keys: tuple[_Jwk, ...] | None = None
        self._fetched_at: float | None = None
        self._inflight: asyncio.Future[None] | None = None

    async def key_for(self, kid: str | None, alg: str) -> PyJWK:
        if self._keys is None:
            await self._refetch()
        key = self._select(kid, alg)
        if key is None:
            await self._refetch()  # maybe a rotation at the provider
            key = self._select(kid, alg)
        if key is None:
            raise TokenInvalid("token-kid-unknown", f"no {alg} key with kid {kid!r}")
        return key

    def _select(self, kid: str | None, alg: str) -> PyJWK | None:
        keys = self._keys or ()
        if kid is None:
            return _only_candidate(keys, alg)
        named = [k for k in keys if k.kid == kid]
        for jwk in named:
            verifier = jwk.verifier(alg)
            if verifier is not None:
                return verifier
        if any(not _fits(jwk.data, alg) for jwk in named):
            # RFC 8725 §3.1: a key is used with one algorithm; the token may not pick
            # another one for it (e.g. an EC kid with `alg: RS256`).
            raise TokenInvalid("token-alg-not-allowed", f"key {kid!r} is not for {alg}")
        return None  # unknown, or known but unusable (weak, malformed): as unknown

    async def _refetch(self) -> None:
        if self._inflight is None:
            if self._keys is not None and self._recently_fetched():
                return
            self._fetched_at = self._clock()
            self._inflight = asyncio.ensure_future(self._fetch_keys())
            self._inflight.add_done_callback(retrieve_exception)
        # shield: one caller giving up (cancelled) must not cancel the others' fetch.
        await asyncio.shield(self._inflight)

    def _recently_fetched(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._interval

    async def _fetch_keys(self) -> None:
        try:
            self._keys = _parse_jwks(await self._fetch())
        finally:
            self._inflight = None


def _only_candidate(keys: tuple[_Jwk, ...], alg: str) -> PyJWK | None:
    candidates = [v for v in (k.verifier(alg) for k in keys) if v is not None]
    if len(candidates) > 1:
        raise TokenInvalid("token-kid-missing", f"{len(candidates)} {alg} keys and no kid")
    return candidates[0] if candidates else None


def retrieve_exception(future: asyncio.Future[None]) -> None:
    # Every awaiting caller sees the error; this only keeps asyncio from logging
    # "exception was never retrieved" when all of them were cancelled meanwhile.
    if not future.cancelled():
        future.exception()
