"""Opaque access tokens through RFC 7662 introspection: the real gateway, the real provider.

oidc-provider issues opaque access tokens for a resource server (RFC 8707 indicator
`https://api.test`) to an agent that uses the client-credentials grant, and answers
for them at its `/token/introspection`. The gateway (`access_tokens: opaque`)
introspects as its own client: an active token is let through, a revoked one refused
with 401 `invalid_token` once the short cache has let go, a token for another
resource is not this route's, the cache is bounded (the provider's request log counts
the introspection calls), and an introspection endpoint that is down is a 503 with a
decision record — never an allow and never "log in again".
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET
from tests.testbed.oidc import OIDCProvider, client_auth_header, make_client, running_oidc_provider

API = "https://api.test"
OTHER = "https://other.test"
AGENT, AGENT_SECRET = "agent", "agent-secret-0123456789abcdefghijkl"
GATEWAY, GATEWAY_SECRET = "gateway", "gateway-secret-0123456789abcdefghij"
CACHE_TTL = 2.0


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with running_oidc_provider(
        clients=[
            make_client(GATEWAY, GATEWAY_SECRET, any_loopback_port=True),
            make_client(AGENT, AGENT_SECRET, (), grant_types=["client_credentials"], response_types=[]),
        ],
        options={"features": {"clientCredentials": {"enabled": True}}},
        resource_servers={API: {"scope": "api:read"}, OTHER: {"scope": "other:read"}},
    ) as op:
        yield op


def config(op: OIDCProvider, upstream: str, **introspection: Any) -> dict[str, Any]:
    return {
        "secrets": {"cookie_secret": [COOKIE_SECRET]},
        "providers": [{
            "id": "op", "issuer": op.issuer, "client_id": GATEWAY, "client_secret": GATEWAY_SECRET,
            "access_tokens": "opaque",
            "introspection": {"cache_ttl": f"{CACHE_TTL}s", "negative_ttl": "1s", "cache_size": 2, **introspection},
        }],
        "routes": [{
            "id": "api", "match": {"host": "127.0.0.1"}, "upstream": upstream,
            "authenticate": ["bearer"], "bearer": {"audiences": [API]},
            "policy": {"allow": [{"claim": {"path": "scope", "contains": "api:read"}}]},
        }],
    }


@pytest.fixture
def gateway(provider: OIDCProvider, echo_upstream: TestServer, gateway_factory: Callable[..., Gateway]) -> Gateway:
    return gateway_factory(config(provider, str(echo_upstream.make_url("/")).rstrip("/")))


async def agent_token(op: OIDCProvider, resource: str | None = API, scope: str = "api:read") -> str:
    """The agent's client-credentials token (RFC 6749 §4.4) for `resource` (RFC 8707)."""
    form = {"grant_type": "client_credentials", "scope": scope}
    if resource is not None:
        form["resource"] = resource
    async with aiohttp.ClientSession() as http:
        async with http.post(op.endpoint("token"), data=form, headers=client_auth_header(AGENT, AGENT_SECRET)) as r:
            body = await r.json()
            assert r.status == 200, body
    token = str(body["access_token"])
    assert token.count(".") != 2  # opaque, not a JWT
    return token


async def revoke(op: OIDCProvider, token: str) -> None:
    async with aiohttp.ClientSession() as http:
        form = {"token": token, "token_type_hint": "access_token"}
        async with http.post(op.endpoint("token/revocation"), data=form, headers=client_auth_header(AGENT, AGENT_SECRET)) as r:
            assert r.status == 200


async def call(gateway: Gateway, token: str) -> tuple[int, str, str]:
    """(status, WWW-Authenticate, request id) of GET /data with `token`."""
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        async with http.get(f"{gateway.url}/data", headers=headers) as r:
            await r.read()
            return r.status, r.headers.get("WWW-Authenticate", ""), r.headers["X-Request-Id"]


def introspections(op: OIDCProvider) -> int:
    return op.log_text(limit=1 << 22).count("POST /token/introspection")


async def test_active_token_allowed_and_served_from_the_cache(provider: OIDCProvider, gateway: Gateway) -> None:
    token = await agent_token(provider)
    before = introspections(provider)
    status, _, request_id = await call(gateway, token)
    assert status == 200
    record = gateway.record(request_id)
    assert record["decision"] == "allow" and record["user"] == AGENT  # no sub: the client is the subject
    assert (await call(gateway, token))[0] == 200
    assert introspections(provider) == before + 1  # the second answer came from the cache


async def test_a_burst_with_one_new_token_is_one_introspection(provider: OIDCProvider, gateway: Gateway) -> None:
    token = await agent_token(provider)
    before = introspections(provider)
    answers = await asyncio.gather(*(call(gateway, token) for _ in range(20)))
    assert [status for status, _, _ in answers] == [200] * 20
    assert introspections(provider) == before + 1  # concurrent lookups share one call


async def test_revoked_token_refused_once_the_cache_lets_go(provider: OIDCProvider, gateway: Gateway) -> None:
    token = await agent_token(provider)
    assert (await call(gateway, token))[0] == 200
    await revoke(provider, token)
    time.sleep(CACHE_TTL + 0.2)  # RFC 7662 §4: a cache trades this much staleness
    status, challenge, request_id = await call(gateway, token)
    assert status == 401
    assert 'error="invalid_token"' in challenge and "token-inactive" in challenge
    assert gateway.record(request_id)["reason"] == "token-inactive"


async def test_unknown_token_refused_and_the_refusal_cached_briefly(provider: OIDCProvider, gateway: Gateway) -> None:
    made_up = uuid.uuid4().hex
    before = introspections(provider)
    assert (await call(gateway, made_up))[0] == 401
    assert (await call(gateway, made_up))[0] == 401
    assert introspections(provider) == before + 1  # negative answer cached (negative_ttl 1 s)
    time.sleep(1.2)
    assert (await call(gateway, made_up))[0] == 401
    assert introspections(provider) == before + 2


async def test_token_for_another_resource_is_not_this_routes(provider: OIDCProvider, gateway: Gateway) -> None:
    token = await agent_token(provider, OTHER, "other:read")
    status, challenge, request_id = await call(gateway, token)
    assert status == 401 and "token-audience-invalid" in challenge
    assert gateway.record(request_id)["reason"] == "token-audience-invalid"


async def test_token_without_an_audience_is_refused(provider: OIDCProvider, gateway: Gateway) -> None:
    # No resource indicator: the provider's answer names no `aud`; like a JWT without
    # one (RFC 9068 §4), it is nobody's in particular — so not this route's.
    token = await agent_token(provider, None, "")
    async with aiohttp.ClientSession() as http:
        headers = client_auth_header(GATEWAY, GATEWAY_SECRET)
        async with http.post(provider.endpoint("token/introspection"), data={"token": token}, headers=headers) as r:
            answer = await r.json()
    assert answer["active"] is True and "aud" not in answer
    status, challenge, _ = await call(gateway, token)
    assert status == 401 and "token-audience-invalid" in challenge


async def test_cache_is_bounded(provider: OIDCProvider, gateway: Gateway) -> None:
    tokens = [await agent_token(provider) for _ in range(3)]
    before = introspections(provider)
    for token in tokens:  # cache_size 2: the third pushes the first out
        assert (await call(gateway, token))[0] == 200
    assert (await call(gateway, tokens[2]))[0] == 200  # still held
    assert introspections(provider) == before + 3
    assert (await call(gateway, tokens[0]))[0] == 200  # evicted: asked again
    assert introspections(provider) == before + 4


async def test_introspection_outage_fails_closed_with_a_record(
    echo_upstream: TestServer, gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> None:
    with running_oidc_provider(
        clients=[
            make_client(GATEWAY, GATEWAY_SECRET, any_loopback_port=True),
            make_client(AGENT, AGENT_SECRET, (), grant_types=["client_credentials"], response_types=[]),
        ],
        options={"features": {"clientCredentials": {"enabled": True}}},
        resource_servers={API: {"scope": "api:read"}},
    ) as op:
        gateway = gateway_factory(config(op, str(echo_upstream.make_url("/")).rstrip("/")))
        cached, fresh = await agent_token(op), await agent_token(op)
        assert (await call(gateway, cached))[0] == 200
        op.stop()
        status, challenge, request_id = await call(gateway, fresh)
        assert status == 503 and "invalid_token" not in challenge
        record = gateway.record(request_id)
        assert record["decision"] == "error" and record["reason"] == "introspection-unavailable"
        assert record["status"] == 503
