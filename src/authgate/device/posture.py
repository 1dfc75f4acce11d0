"""Device posture: a signed JWT from an MDM or endpoint agent, verified, as `DeviceFacts`.

Contract: `PostureVerifier(config, jwks)`:
- `token_from(headers, cookies)` finds the token in the configured header (a bare
  token or `Bearer <token>`) or cookie; None when absent.
- `verify(token, now)` answers `DeviceFacts(source="posture")`, or raises
  `DeviceError("device-posture-invalid")` with the token check that failed as
  `detail` (`token-expired`, `token-issuer-invalid`, ...), or
  `DeviceError("device-posture-claims-invalid")` when a claim has the wrong type.
  A JWKS that cannot be fetched raises `ProviderError` (the issuer is down: not the
  device's fault).
- `device(headers, cookies, now)` is the two together: None when no token is sent.

The JOSE and claim checks are `authgate.oidc.tokens.validate_access_token`'s, the
ones bearer tokens pass: the algorithm allow-list is checked before any key lookup
(asymmetric only: `none` and HMAC are refused whatever the configuration —
CVE-2015-9235 class), the key is chosen by `kid` from the issuer's JWKS
(`authgate.oidc.jwks.JwksCache`, rotation by refetch), then the signature, `iss`
(exact), `aud` (must name the configured audience, so a token minted for another
relying party is refused: RFC 8725 §3.9), `exp` (required), `nbf`, `iat`, and `sub`
(required). Then the posture claims: `device_id` (else `sub`) is the device id;
`managed` and `compliant` are booleans and `os` a string when present.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import aiohttp

from authgate.bounded_read import read_at_most
from authgate.config.schema_adaptive import PostureConfig
from authgate.device.facts import MAX_DEVICE_ID, DeviceError, DeviceFacts
from authgate.oidc.errors import ProviderError, TokenInvalid
from authgate.oidc.jwks import JwksCache, JwksFetch
from authgate.oidc.tokens import validate_access_token

_MAX_BODY = 1 << 20  # a JWKS is a small JSON document
T = TypeVar("T")


class PostureVerifier:
    def __init__(self, config: PostureConfig, jwks: JwksCache) -> None:
        self.config = config
        self._jwks = jwks

    def token_from(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        value = None
        if self.config.header is not None:
            value = headers.get(self.config.header)
        if value is None and self.config.cookie is not None:
            value = cookies.get(self.config.cookie)
        if value is None:
            return None
        scheme, _, rest = value.strip().partition(" ")
        return rest.strip() if scheme.lower() == "bearer" and rest else value.strip() or None

    async def verify(self, token: str, now: float) -> DeviceFacts:
        try:
            claims = await validate_access_token(
                token,
                self._jwks,
                issuer=self.config.issuer,
                audiences=[self.config.audience],
                algorithms=self.config.algorithms,
                leeway=self.config.leeway,
                now=now,
            )
        except TokenInvalid as error:
            raise DeviceError("device-posture-invalid", error.reason) from None
        return posture_facts(claims)

    async def device(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], now: float
    ) -> DeviceFacts | None:
        token = self.token_from(headers, cookies)
        return None if token is None else await self.verify(token, now)


def posture_facts(claims: Mapping[str, Any]) -> DeviceFacts:
    """The device a verified posture token describes."""
    device_id = claims.get("device_id", claims["sub"])
    if not isinstance(device_id, str) or not 0 < len(device_id) <= MAX_DEVICE_ID:
        raise DeviceError("device-posture-claims-invalid", "device_id")
    exp = claims.get("exp")
    return DeviceFacts(
        source="posture",
        device_id=device_id,
        subject=claims["sub"],
        issuer=claims["iss"],
        not_after=float(exp) if isinstance(exp, int | float) else None,
        managed=_optional(claims, "managed", bool),
        compliant=_optional(claims, "compliant", bool),
        os=_optional(claims, "os", str),
        claims=dict(claims),
    )


def _optional(claims: Mapping[str, Any], name: str, kind: type[T]) -> T | None:
    value = claims.get(name)
    if value is None or isinstance(value, kind):
        return value
    raise DeviceError("device-posture-claims-invalid", name)


def http_jwks_fetch(
    http: aiohttp.ClientSession, url: str, *, timeout: float = 10.0, what: str = "JWKS"
) -> JwksFetch:
    """A `JwksCache` fetch for the posture issuer's `jwks_uri`, over `http` (any JSON
    object document: `what` names it in errors)."""
    limit = aiohttp.ClientTimeout(total=timeout)

    async def fetch() -> dict[str, Any]:
        try:
            async with http.get(url, timeout=limit, allow_redirects=False) as response:
                body = await read_at_most(response.content, _MAX_BODY)
                if response.status != 200 or len(body) > _MAX_BODY:
                    raise ProviderError("provider-bad-response", f"{what} {url}: {response.status}")
                document = _json(body, f"{what} {url}")
        except TimeoutError:
            raise ProviderError("provider-timeout", f"{what} {url}") from None
        except aiohttp.ClientError as error:
            raise ProviderError("provider-unreachable", f"{what} {url}: {error}") from None
        return document

    return fetch


def _json(body: bytes, where: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        raise ProviderError("provider-bad-response", f"{where}: not JSON") from None
    if not isinstance(document, dict):
        raise ProviderError("provider-bad-response", f"{where}: not a JSON object")
    return document
