"""A Shared Signals transmitter written for the tests (there is none in the registries).

`Transmitter` is a small aiohttp app that does what an SSF 1.0 transmitter does for a
receiver: it publishes `/.well-known/ssf-configuration` (issuer, `jwks_uri`,
`delivery_methods_supported`) and its JWKS, signs real Security Event Tokens with its
own EC P-256 key (`sign`), pushes them (`push`, RFC 8935) and queues them for poll
delivery (`queue`; `/poll` answers RFC 8936 requests, keeps what was acknowledged
in `acked` and what was refused in `refused`, requires `Authorization: Bearer
POLL_TOKEN`, and answers `poll_status` instead when a test sets it). `rogue_sign` signs with a key the JWKS does not hold, under the real
`kid`: a forgery. Fixture: `transmitter` (on 127.0.0.3, its own loopback host).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import ec

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
POLL_TOKEN = "poll-token-0123456789-abcdefghijklmnopq"
PUSH_TOKEN = "push-token-0123456789-abcdefghijklmnopq"
KID = "tx-key-1"


def _public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


class Transmitter:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.rogue_key = ec.generate_private_key(ec.SECP256R1())
        self.server: TestServer | None = None
        self.queued: dict[str, str] = {}
        self.acked: list[str] = []
        self.refused: dict[str, Any] = {}
        self.polls = 0
        self.poll_status = 200  # set to 503 (say) for a poll endpoint that is down
        self.poll_times: list[float] = []

    @property
    def issuer(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    @property
    def poll_url(self) -> str:
        return self.issuer + "/poll"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/ssf-configuration", self._metadata)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_post("/poll", self._poll)
        return app

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "spec_version": "1_0",
                "issuer": self.issuer,
                "jwks_uri": self.issuer + "/jwks",
                "delivery_methods_supported": ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"],
                "configuration_endpoint": self.issuer + "/streams",
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [_public_jwk(self.key, KID)]})

    async def _poll(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {POLL_TOKEN}":
            return web.json_response({"error": "invalid_token"}, status=401)
        self.poll_times.append(time.monotonic())
        if self.poll_status != 200:
            return web.json_response({"error": "unavailable"}, status=self.poll_status)
        body = await request.json()
        self.polls += 1
        for jti in body.get("ack", []):
            self.acked.append(jti)
            self.queued.pop(jti, None)
        for jti, error in body.get("setErrs", {}).items():
            self.refused[jti] = error
            self.queued.pop(jti, None)
        wanted = int(body.get("maxEvents", 100))
        sets = dict(list(self.queued.items())[:wanted])
        return web.json_response({"sets": sets, "moreAvailable": len(self.queued) > len(sets)})

    def claims(
        self, event: str, payload: Mapping[str, Any] | None = None, *, sub_id: Mapping[str, Any] | None,
        aud: str, **overrides: Any,
    ) -> dict[str, Any]:  # fmt: skip
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": aud,
            "iat": int(time.time()),
            "jti": uuid.uuid4().hex,
            "events": {event: dict(payload or {})},
        }
        if sub_id is not None:
            claims["sub_id"] = dict(sub_id)
        return {**claims, **overrides}

    def sign(self, claims: Mapping[str, Any], *, typ: str | None = "secevent+jwt", kid: str = KID) -> str:
        headers = {"kid": kid, **({"typ": typ} if typ else {})}
        return jwt.encode(dict(claims), self.key, algorithm="ES256", headers=headers)

    def rogue_sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.rogue_key, algorithm="ES256", headers={"kid": KID, "typ": "secevent+jwt"})

    def queue(self, token: str) -> str:
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        self.queued[jti] = token
        return str(jti)


async def push(
    url: str, token: str, *, bearer: str | None = PUSH_TOKEN, content_type: str = "application/secevent+jwt"
) -> tuple[int, dict[str, Any] | None]:
    """POST one SET as RFC 8935 says; the status and the JSON body (None when empty)."""
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    async with aiohttp.ClientSession() as client:
        async with client.post(url, data=token.encode(), headers=headers) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)


@pytest.fixture
async def transmitter() -> AsyncIterator[Transmitter]:
    tx = Transmitter()
    tx.server = TestServer(tx.app(), host="127.0.0.3")
    await tx.server.start_server()
    yield tx
    await tx.server.close()
