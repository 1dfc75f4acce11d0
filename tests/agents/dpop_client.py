"""A client's side of OAuth for the agent tests: DPoP proofs and client credentials.

Contract: `DpopKey` is a client key pair (EC P-256 by default) that signs DPoP proof
JWTs (`proof(method, url, ...)`, RFC 9449 §4.2), each claim overridable or left out
(`DROP`) and the header too, for the negative rows; `thumbprint` is its RFC 7638
SHA-256 thumbprint (what a bound token's `cnf.jkt` names). `client_credentials(...)`
asks a token endpoint for an access token (RFC 6749 §4.4) with RFC 8707 `resource`,
sending a DPoP proof when given a key. Test code: the signing is joserfc's, as a
real client library's would be.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

from tests.testbed.oidc import client_auth_header

DROP = object()  # as a claim or header value: leave it out


def ath(token: str) -> str:
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class DpopKey:
    key: Any = field(default_factory=lambda: ECKey.generate_key("P-256"))
    alg: str = "ES256"

    @classmethod
    def rsa(cls) -> DpopKey:
        return cls(RSAKey.generate_key(2048), "RS256")

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    @property
    def thumbprint(self) -> str:
        return str(self.key.thumbprint())

    def proof(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A DPoP proof for `method url` (with `ath` of `token`); `claims`/`header`
        override or (DROP) remove what a correct client would send."""
        body: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if token is not None:
            body["ath"] = ath(token)
        body.update(claims)
        protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        protected.update(header or {})
        body = {k: v for k, v in body.items() if v is not DROP}
        protected = {k: v for k, v in protected.items() if v is not DROP}
        return self.sign(protected, body)

    def sign(self, protected: dict[str, Any], body: dict[str, Any]) -> str:
        payload = json.dumps(body).encode()
        return str(jws.serialize_compact(protected, payload, self.key, algorithms=[protected["alg"]]))


def hs256_proof(method: str, url: str, token: str) -> str:
    """An HMAC-signed "proof" whose header carries the (necessarily secret) oct key."""
    key = OctKey.generate_key(256)
    protected = {"typ": "dpop+jwt", "alg": "HS256", "jwk": key.as_dict(private=True)}
    body = {"jti": secrets.token_urlsafe(8), "htm": method, "htu": url, "iat": int(time.time()), "ath": ath(token)}
    return str(jws.serialize_compact(protected, json.dumps(body).encode(), key, algorithms=["HS256"]))


def unsigned_proof(key: DpopKey, method: str, url: str, token: str) -> str:
    """`alg: none` with an empty signature (RFC 7515 §A.5, unsecured)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header = {"typ": "dpop+jwt", "alg": "none", "jwk": key.public_jwk}
    body = {"jti": secrets.token_urlsafe(8), "htm": method, "htu": url, "iat": int(time.time()), "ath": ath(token)}
    return f"{part(header)}.{part(body)}."


async def client_credentials(
    token_endpoint: str,
    client_id: str,
    client_secret: str,
    *,
    resource: str,
    scope: str,
    dpop: DpopKey | None = None,
) -> dict[str, Any]:
    """The token response (raises on an error answer, with the provider's body)."""
    headers = client_auth_header(client_id, client_secret)
    if dpop is not None:
        headers["DPoP"] = dpop.proof("POST", token_endpoint)
    form = {"grant_type": "client_credentials", "resource": resource, "scope": scope}
    async with aiohttp.ClientSession() as http:
        async with http.post(token_endpoint, data=form, headers=headers) as response:
            body: dict[str, Any] = await response.json()
            assert response.status == 200, body
            return body
