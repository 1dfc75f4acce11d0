"""Test bed for the header hardening tests: raw requests, an API route, tokens.

`echo_gateway` (from tests/proxy/conftest.py) starts a gateway with one public route
`echo` (host echo.test) to the echo upstream. `rogue_issuer` serves a rogue OpenID Provider (it signs what the test asks) in the
test process; `api_route(...)` is a bearer route to the echo upstream; `token(...)`
a valid access token for it. `send(gateway, method, target, headers)` writes the
request bytes itself — header names exactly as given, duplicates included — and
returns status, response headers and body (tests.proxy.helpers.raw_request).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestServer

from tests.oidc.rogue import RogueProvider, mint, rsa_key
from tests.proxy.conftest import echo_gateway
from tests.proxy.helpers import echoed, raw_request
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET

__all__ = ["echo_gateway"]  # re-exported for the test modules (a fixture)

AUDIENCE = "api://orders"
Headers = Sequence[tuple[str, str]]


@pytest_asyncio.fixture
async def rogue_issuer() -> AsyncIterator[RogueProvider]:
    provider = RogueProvider(published=[rsa_key("rsa-1")])
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    yield provider
    await server.close()


def upstream_of(echo: TestServer) -> str:
    return str(echo.make_url("/")).rstrip("/")


def api_config(rogue: RogueProvider, echo: TestServer, key_file: str, **route: Any) -> dict[str, Any]:
    """A gateway whose route `api` (host api.test) takes bearer tokens of `rogue`."""
    return {
        "secrets": {"cookie_secret": COOKIE_SECRET, "assertion_keys": key_file},
        "providers": [{"id": "rogue", "issuer": rogue.issuer, "client_id": "gateway"}],
        "routes": [api_route(rogue, echo, **route)],
    }


def api_route(rogue: RogueProvider, echo: TestServer, **extra: Any) -> dict[str, Any]:
    route: dict[str, Any] = {
        "id": "api",
        "match": {"host": "api.test"},
        "upstream": upstream_of(echo),
        "authenticate": ["bearer"],
        "bearer": {"audiences": [AUDIENCE], "providers": ["rogue"]},
    }
    route.update(extra)
    return route


def token(rogue: RogueProvider, user: str = "billing-bot", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": rogue.issuer,
        "sub": f"sub-{user}",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "preferred_username": user,
        "groups": ["orders-admin"],
        **claims,
    }
    return mint(payload, rogue.published[0])


def request_bytes(method: str, target: str, host: str, headers: Headers) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def send(
    gateway: Gateway, target: str = "/", headers: Headers = (), *, host: str = "echo.test", method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    return await raw_request(gateway.port, request_bytes(method, target, host, headers))


async def echo_of(
    gateway: Gateway, target: str = "/", headers: Headers = (), *, host: str = "echo.test", method: str = "GET"
) -> dict[str, Any]:
    """What the echo upstream received (the request must be forwarded: 200)."""
    status, _, body = await send(gateway, target, headers, host=host, method=method)
    assert status == 200, body
    return echoed(body)


def received(echo: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in echo["headers"]]


def names_received(echo: dict[str, Any]) -> set[str]:
    return {name.lower() for name, _ in echo["headers"]}
