"""Upstream-side fixtures: gateway keys, a JWKS served over real HTTP, crafted tokens."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from authgate.mutate.assertion import AssertionKeys, AssertionSigner
from tests.mutate.personas import alice_admin
from tests.testbed.clock import FakeClock

AUDIENCE = "hr"


@dataclass
class JwksServer:
    """The gateway's `/.authgate/jwks.json`, with a hit counter and a kill switch."""

    jwks: dict[str, Any]
    url: str = ""
    hits: int = 0
    status: int = 200
    extra: dict[str, Any] = field(default_factory=dict)




@pytest.fixture
def keys() -> AssertionKeys:
    return AssertionKeys.generate()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def good_token(keys: AssertionKeys) -> str:
    return AssertionSigner(keys).sign(
        alice_admin, audience=AUDIENCE, now=time.time(), ttl=60, request_id="req-1"
    )


@pytest.fixture
async def jwks_server(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]], keys: AssertionKeys
) -> JwksServer:
    state = JwksServer(jwks=keys.jwks())

    async def serve(request: web.Request) -> web.Response:
        state.hits += 1
        if state.status != 200:
            return web.Response(status=state.status, text="down")
        return web.json_response(state.jwks)

    app = web.Application()
    app.router.add_get("/.authgate/jwks.json", serve)
    server = await aiohttp_server(app)
    state.url = str(server.make_url("/.authgate/jwks.json"))
    return state


def craft(
    key: Any,
    *,
    algorithm: str = "ES256",
    headers: dict[str, Any] | None = None,
    **overrides: Any,
) -> str:
    """A token like the gateway's, with any claim changed (None removes it)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "authgate",
        "sub": "alice-sub",
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": "j1",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)
