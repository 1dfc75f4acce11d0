"""Bearer JWTs on an API route: validated against the provider's JWKS, same identity model.

The tokens come from a rogue provider inside the test (it signs what the test
crafts), which is what negative cases need; the gateway runs as a real process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from tests.oidc.rogue import (
    RogueProvider,
    ec_key,
    hs256_with_public_pem,
    mint,
    rsa_key,
    unsigned,
)
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET

AUDIENCE = "api://orders"


@pytest_asyncio.fixture
async def rogue_server() -> AsyncIterator[RogueProvider]:
    # Two RSA keys: a token without `kid` must not be tried against each of them.
    provider = RogueProvider(published=[rsa_key("rsa-1"), rsa_key("rsa-2", slot=2), ec_key("ec-1")])
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    yield provider
    await server.close()


@pytest.fixture
def api_gateway(
    rogue_server: RogueProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Gateway:
    return gateway_factory(
        {
            "secrets": {"cookie_secret": COOKIE_SECRET, "assertion_keys": str(tmp_path / "k.pem")},
            "providers": [
                {"id": "rogue", "issuer": rogue_server.issuer, "client_id": "gateway"}
            ],
            "routes": [
                {
                    "id": "orders",
                    "match": {"host": "127.0.0.1"},
                    "upstream": str(echo_upstream.make_url("/")).rstrip("/"),
                    "authenticate": ["bearer"],
                    "bearer": {"audiences": [AUDIENCE]},
                }
            ],
        }
    )


def access_claims(issuer: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": "svc-42",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "preferred_username": "billing-bot",
        "groups": ["orders-admin"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def call(gateway: Gateway, token: str | None, **headers: str) -> aiohttp.ClientResponse:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/v1/orders", headers=headers, allow_redirects=False) as r:
            await r.read()
            return r


async def test_valid_token_reaches_upstream_with_identity(
    api_gateway: Gateway, rogue_server: RogueProvider
) -> None:
    token = mint(access_claims(rogue_server.issuer), rogue_server.published[0])
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{api_gateway.url}/v1/orders", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200
            echo = await r.json()
    values = {k.lower(): v for k, v in echo["headers"]}
    assert values["x-authgate-user"] == "billing-bot"
    assert values["x-authgate-groups"] == "orders-admin"
    assert values["x-authgate-provider"] == "rogue"
    record = api_gateway.decisions(1)[0]
    assert (record["decision"], record["user"]) == ("allow", "billing-bot")


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda p: mint(access_claims(p.issuer, exp=int(time.time()) - 600), p.published[0]), "token-expired"),
        (lambda p: mint(access_claims(p.issuer, aud="api://other"), p.published[0]), "token-audience-invalid"),
        (lambda p: unsigned(access_claims(p.issuer)), "token-alg-not-allowed"),
        (lambda p: hs256_with_public_pem(access_claims(p.issuer), p.published[0]), "token-alg-not-allowed"),
        (lambda p: mint(access_claims(p.issuer), rsa_key("rsa-1", slot=1)), "token-signature-invalid"),
        (lambda p: mint(access_claims(p.issuer), p.published[0], header={"kid": None}), "token-kid-missing"),
        (lambda p: "not.a.jwt", "token-issuer-invalid"),
    ],
    ids=["expired", "wrong-aud", "alg-none", "hs256-confusion", "bad-signature", "no-kid", "garbage"],
)
async def test_bad_tokens_get_401_invalid_token(
    api_gateway: Gateway, rogue_server: RogueProvider, make_token: Callable[[RogueProvider], str], reason: str
) -> None:
    response = await call(api_gateway, make_token(rogue_server), Accept="text/html")
    assert response.status == 401  # never a login redirect on an API route
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="authgate", error="invalid_token"')
    record = api_gateway.decisions(1)[0]
    assert record["decision"] == "login" and reason in record["reason"]


async def test_missing_token_gets_a_plain_bearer_challenge(api_gateway: Gateway) -> None:
    response = await call(api_gateway, None, Accept="text/html")
    assert response.status == 401
    # No error (RFC 6750 §3.1: none when no credential came), the resource metadata
    # (RFC 9728 §5.1) and, DPoP being allowed by default, the DPoP scheme (RFC 9449 §7.1).
    metadata = f'resource_metadata="{api_gateway.url}/.well-known/oauth-protected-resource"'
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="authgate", {metadata}, '
        f'DPoP realm="authgate", algs="ES256 RS256 PS256", {metadata}'
    )
