"""A rogue OpenID Provider for the negative cases: it signs whatever a test crafts.

Contract: `RogueProvider` is a small aiohttp app (served by pytest-aiohttp's
`aiohttp_server` on 127.0.0.1, see `conftest.py`) with
  /.well-known/openid-configuration   `discovery()` + `discovery_overrides`
  /jwks                               the public parts of `published` (swap to rotate)
  /token                              `token_status` + `token_body` (recorded requests)
  /userinfo                           `userinfo_status` + `userinfo_body`
  /auth                               a login that needs no user: straight back to the
                                      `redirect_uri` with a code (`authorizations` keeps
                                      each request's query: the gateway's `nonce`...)
`token_answer`, when set, answers /token instead of `token_status`/`token_body`:
called with the form, it returns (status, body) — e.g. an ID token for the code, a
crafted one for a refresh.
`redirects` maps a path to (status, Location): that path answers the redirect instead
(to check that no fetch follows one). And the minting helpers below: `mint(claims, key, header=...)` signs with a test key
(header values of None remove that header), `unsigned(...)` makes an `alg: none` token,
`hs256_with_public_pem(...)` the algorithm-confusion forgery (HMAC keyed with the RSA
public key PEM), `tampered(...)` a token whose signature no longer matches.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from yarl import URL

DROP = object()  # as a claim value in `claims(...)`: leave that claim out


@dataclass(frozen=True)
class RogueKey:
    kid: str | None
    alg: str
    private: Any  # a cryptography private key

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        """The public JWK with `kid`, `alg`, `use`; `extra` adds or (None) removes."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk: Any = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"}, **extra)
        return {k: v for k, v in jwk.items() if v is not None}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


@functools.cache
def _rsa_private(bits: int, slot: int) -> rsa.RSAPrivateKey:
    # Cached per (size, slot): RSA generation is the slow part of these tests.
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_key(
    kid: str | None = "rsa-1", alg: str = "RS256", *, bits: int = 2048, slot: int = 0
) -> RogueKey:
    return RogueKey(kid, alg, _rsa_private(bits, slot))


def ec_key(kid: str | None = "ec-1", alg: str = "ES256") -> RogueKey:
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    return RogueKey(kid, alg, ec.generate_private_key(curve))


def ed_key(kid: str | None = "ed-1") -> RogueKey:
    return RogueKey(kid, "EdDSA", ed25519.Ed25519PrivateKey.generate())


def claims(**values: Any) -> dict[str, Any]:
    """Claims with `DROP` values removed."""
    return {k: v for k, v in values.items() if v is not DROP}


def mint(
    payload: Mapping[str, Any], key: RogueKey, *, header: Mapping[str, Any] | None = None
) -> str:
    """Sign `payload` with `key`. The header defaults to the key's `alg` and `kid` plus
    `typ: JWT`; `header` adds or replaces values (None removes one). Signed by hand,
    not `jwt.encode`, so a test can write headers pyjwt would refuse (a numeric kid)."""
    headers = {"alg": key.alg, "typ": "JWT", "kid": key.kid} | dict(header or {})
    headers = {k: v for k, v in headers.items() if v is not None}
    signing_input = f"{_segment(headers)}.{_segment(payload)}".encode()
    algorithm = jwt.get_algorithm_by_name(headers["alg"])
    signature = algorithm.sign(signing_input, algorithm.prepare_key(key.private))
    return f"{signing_input.decode()}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value).encode())


def raw_token(header: Mapping[str, Any], payload: Mapping[str, Any], signature: bytes = b"") -> str:
    return f"{_segment(header)}.{_segment(payload)}.{_b64(signature)}"


def unsigned(payload: Mapping[str, Any], *, kid: str | None = "rsa-1") -> str:
    header = {"alg": "none", "typ": "JWT"} | ({"kid": kid} if kid else {})
    return raw_token(header, payload)


def hs256_with_public_pem(payload: Mapping[str, Any], key: RogueKey) -> str:
    """The CVE-2015-9235 forgery: HS256 whose secret is the provider's public key."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_segment(header)}.{_segment(payload)}".encode()
    mac = hmac.new(key.public_pem(), signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{_b64(mac)}"


def tampered(token: str, **changes: Any) -> str:
    """The token with payload claims changed (or, without changes, one signature
    byte flipped) — the signature no longer matches either way."""
    head, payload, signature = token.split(".")
    if changes:
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return f"{head}.{_segment(decoded | changes)}.{signature}"
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{head}.{payload}.{_b64(bytes(raw))}"


@dataclass
class RogueProvider:
    issuer: str = ""
    published: list[RogueKey] = field(default_factory=list)
    discovery_overrides: dict[str, Any] = field(default_factory=dict)
    token_status: int = 200
    token_body: Any = field(default_factory=dict)
    userinfo_status: int = 200
    userinfo_body: Any = field(default_factory=dict)
    token_requests: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)
    userinfo_requests: list[dict[str, str]] = field(default_factory=list)
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    delay: float = 0.0  # seconds every answer waits (timeouts)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    redirected: list[str] = field(default_factory=list)  # paths answered with one
    authorizations: list[dict[str, str]] = field(default_factory=list)
    token_answer: Callable[[dict[str, str]], tuple[int, Any]] | None = None

    def discovery(self) -> dict[str, Any]:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "end_session_endpoint": f"{self.issuer}/session/end",
            "authorization_response_iss_parameter_supported": True,
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
        }
        document.update(self.discovery_overrides)
        return {k: v for k, v in document.items() if v is not DROP}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._redirect])
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_post("/token", self._token)
        app.router.add_get("/userinfo", self._userinfo)
        app.router.add_get("/auth", self._authorize)
        return app

    async def _authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorizations.append(query)
        back = URL(query["redirect_uri"]).update_query(
            code=f"code-{len(self.authorizations)}", state=query.get("state", ""), iss=self.issuer
        )
        return web.Response(status=302, headers={"Location": str(back)})

    @web.middleware
    async def _redirect(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in self.redirects:
            self.redirected.append(request.path)
            status, location = self.redirects[request.path]
            return web.Response(status=status, headers={"Location": location})
        response: web.StreamResponse = await handler(request)
        return response

    async def _discovery(self, request: web.Request) -> web.Response:
        self.discovery_fetches += 1
        await asyncio.sleep(self.delay)
        return web.json_response(self.discovery())

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        await asyncio.sleep(self.delay)
        return web.json_response({"keys": [k.public_jwk() for k in self.published]})

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append((form, dict(request.headers)))
        await asyncio.sleep(self.delay)
        if self.token_answer is not None:
            return _answer(*self.token_answer(form))
        return _answer(self.token_status, self.token_body)

    async def _userinfo(self, request: web.Request) -> web.Response:
        self.userinfo_requests.append(dict(request.headers))
        await asyncio.sleep(self.delay)
        return _answer(self.userinfo_status, self.userinfo_body)


def _answer(status: int, body: Any) -> web.Response:
    if isinstance(body, bytes | str):
        return web.Response(status=status, body=body, content_type="text/plain")
    return web.json_response(body, status=status)
