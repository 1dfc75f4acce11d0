"""The gateway's JWK Set as an upstream app sees it: fetch over HTTP, keep ES256 keys.

Contract: `fetch_jwks(url)` GETs the JWKS (bounded size and time) and returns the
parsed JSON object or raises `JwksError` (a redirect too: never followed).
`es256_keys(jwks)` returns `{kid: public key}` for the keys usable with ES256 only —
EC, P-256, `use` absent or `sig`, `alg` absent or `ES256`, a `kid` present — and
skips everything else: a verifier that never holds an RSA or symmetric key cannot be
talked into an algorithm-confusion forgery (CVE-2015-9235 class). Invalid points
are rejected by `cryptography`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
_P256_BYTES = 32


class JwksError(Exception):
    """The JWKS could not be fetched or is not a JWK Set."""


async def fetch_jwks(url: str, *, timeout: float = 5.0) -> Mapping[str, Any]:
    """GET the JWK Set at `url`. Fetches are rare, so each uses its own short session."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=client_timeout) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if 300 <= response.status < 400:
                # Never followed: a redirect would let its target choose the keys the
                # app trusts. Configure the gateway's own jwks.json URL.
                raise JwksError(f"{url}: HTTP {response.status} redirect not followed")
            if response.status != 200:
                raise JwksError(f"{url}: HTTP {response.status}")
            body = await _read_limited(url, response)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise JwksError(f"{url}: {exc!r}") from exc
    return _parse(url, body)


async def _read_limited(url: str, response: aiohttp.ClientResponse) -> bytes:
    # Bounded: a JWKS endpoint that streams forever must not exhaust the app's memory.
    body = bytearray()
    async for chunk in response.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > MAX_JWKS_BYTES:
            raise JwksError(f"{url}: larger than {MAX_JWKS_BYTES} bytes")
    return bytes(body)


def _parse(url: str, body: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise JwksError(f"{url}: not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksError(f"{url}: not a JWK Set (no 'keys' list)")
    return data


def es256_keys(jwks: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """The ES256 verification keys of a JWK Set, by kid (others are skipped)."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in jwks.get("keys", ()):
        key = _es256_key(jwk) if isinstance(jwk, Mapping) else None
        if key is not None:
            keys[str(jwk["kid"])] = key
    return keys


def _es256_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey | None:
    usable = (
        jwk.get("kty") == "EC"
        and jwk.get("crv") == "P-256"
        and jwk.get("use", "sig") == "sig"
        and jwk.get("alg", "ES256") == "ES256"
        and isinstance(jwk.get("kid"), str)
    )
    if not usable:
        return None
    try:
        x, y = _coordinate(jwk.get("x")), _coordinate(jwk.get("y"))
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except (TypeError, ValueError) as exc:
        log.warning("skipping JWK %s: %s", jwk.get("kid"), exc)
        return None


def _coordinate(value: object) -> int:
    if not isinstance(value, str):
        raise TypeError("coordinate is not a string")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("coordinate is not base64url") from exc
    if len(raw) != _P256_BYTES:
        raise ValueError(f"coordinate is {len(raw)} bytes, P-256 needs {_P256_BYTES}")
    return int.from_bytes(raw, "big")
