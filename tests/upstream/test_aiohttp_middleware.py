"""The aiohttp middleware on a real app, against a JWKS served by a second real app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from authgate.upstream import ASSERTION_CLAIMS, AssertionVerifier, aiohttp_middleware
from tests.upstream.conftest import AUDIENCE, JwksServer

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


async def whoami(request: web.Request) -> web.Response:
    claims = request.get(ASSERTION_CLAIMS)
    return web.json_response({"sub": claims["sub"] if claims else None})


async def _client(
    aiohttp_client: ClientFactory, jwks_server: JwksServer, *, required: bool
) -> TestClient[web.Request, web.Application]:
    verifier = AssertionVerifier(jwks_server.url, audience=AUDIENCE)
    app = web.Application(middlewares=[aiohttp_middleware(verifier, required=required)])
    app.router.add_get("/whoami", whoami)
    return await aiohttp_client(app)


async def test_a_valid_assertion_reaches_the_handler(
    aiohttp_client: ClientFactory, jwks_server: JwksServer, good_token: str
) -> None:
    client = await _client(aiohttp_client, jwks_server, required=True)
    response = await client.get("/whoami", headers={"X-Authgate-Assertion": good_token})
    assert response.status == 200
    assert await response.json() == {"sub": "alice-sub"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"X-Authgate-Assertion": "garbage"}, "malformed"),
    ],
)
async def test_refused_with_401_json(
    aiohttp_client: ClientFactory,
    jwks_server: JwksServer,
    headers: dict[str, str],
    reason: str,
) -> None:
    client = await _client(aiohttp_client, jwks_server, required=True)
    response = await client.get("/whoami", headers=headers)
    assert response.status == 401
    assert response.content_type == "application/json"
    assert await response.json() == {"error": "invalid_assertion", "reason": reason}
    assert response.headers["WWW-Authenticate"] == (
        f'AuthgateAssertion realm="authgate", error="{reason}"'
    )


async def test_two_assertions_are_refused(
    aiohttp_client: ClientFactory, jwks_server: JwksServer, good_token: str
) -> None:
    client = await _client(aiohttp_client, jwks_server, required=True)
    # A multidict: the client would merge a plain list of pairs into one header.
    headers = CIMultiDict([("X-Authgate-Assertion", good_token), ("X-Authgate-Assertion", "x")])
    response = await client.get("/whoami", headers=headers)
    assert response.status == 401
    assert (await response.json())["reason"] == "multiple"


async def test_optional_lets_anonymous_through_but_never_a_bad_token(
    aiohttp_client: ClientFactory, jwks_server: JwksServer, good_token: str
) -> None:
    client = await _client(aiohttp_client, jwks_server, required=False)
    anonymous = await client.get("/whoami")
    assert (anonymous.status, await anonymous.json()) == (200, {"sub": None})
    bad = await client.get("/whoami", headers={"X-Authgate-Assertion": good_token + "x"})
    assert bad.status == 401
    good = await client.get("/whoami", headers={"X-Authgate-Assertion": good_token})
    assert await good.json() == {"sub": "alice-sub"}
