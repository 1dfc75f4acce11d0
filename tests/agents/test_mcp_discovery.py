"""An MCP-style client that knows only the URL finds the provider and gets in.

The client below follows the MCP authorization spec (2025-06-18) the way its SDKs
do: it calls the server, reads `resource_metadata` from the 401's `WWW-Authenticate`
(RFC 9728 §5.1), fetches that document (§3), checks its `resource` against the URL
it called, fetches the authorization server's metadata (RFC 8414, falling back to
OpenID discovery), asks the token endpoint for a token with client credentials and
RFC 8707 `resource`, then calls the route with it. Nothing of the provider is
configured in the client. Real parts: `authgate serve` on each front end, the real
oidc-provider issuing JWT access tokens, a recording upstream.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.agents.conftest import AGENT_ID, AGENT_SECRET, start_api_gateway
from tests.agents.dpop_client import DpopKey, client_credentials
from tests.dataplane.front_ends import FRONT_ENDS
from tests.dataplane.recording_upstream import RecordingUpstream
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider


@pytest.fixture(scope="module", params=FRONT_ENDS)
def mcp_gateway(
    request: pytest.FixtureRequest,
    agent_provider: OIDCProvider,
    recording_upstream: RecordingUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    front_end: str = request.param
    gateway = start_api_gateway(
        agent_provider,
        recording_upstream.url,
        tmp_path_factory.mktemp(f"mcp-{front_end}"),
        server={"data_plane": front_end},
    )
    yield gateway
    gateway.stop()


def challenge_param(header: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', header)
    assert found is not None, header
    return found.group(1)


@dataclass
class Discovered:
    resource: dict[str, Any]
    authorization_server: dict[str, Any]


async def discover(http: aiohttp.ClientSession, url: str) -> Discovered:
    """Steps 1-3 of MCP authorization: 401 -> resource metadata -> AS metadata."""
    async with http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}) as first:
        assert first.status == 401
        metadata_url = challenge_param(first.headers["WWW-Authenticate"], "resource_metadata")
    async with http.get(metadata_url) as answer:
        assert answer.status == 200
        resource = await answer.json()
    # RFC 9728 §3.3 / MCP: the metadata is for the server that was called.
    assert url.startswith(resource["resource"])
    issuer = resource["authorization_servers"][0]
    for well_known in ("oauth-authorization-server", "openid-configuration"):
        async with http.get(f"{issuer}/.well-known/{well_known}") as answer:
            if answer.status == 200:
                server = await answer.json()
                break
    else:
        raise AssertionError(f"no authorization server metadata at {issuer}")
    assert server["issuer"] == issuer  # RFC 8414 §3.3
    return Discovered(resource, server)


async def test_a_client_with_only_the_url_discovers_the_provider_and_calls_the_route(
    mcp_gateway: Gateway, recording_upstream: RecordingUpstream
) -> None:
    url = f"{mcp_gateway.url}/mcp"
    async with aiohttp.ClientSession() as http:
        found = await discover(http, url)
        assert found.resource["resource"] == url
        assert found.resource["scopes_supported"] == ["mcp:tools"]
        assert found.resource["bearer_methods_supported"] == ["header"]
        assert found.resource["dpop_bound_access_tokens_required"] is False
        token = await client_credentials(
            found.authorization_server["token_endpoint"],
            AGENT_ID,
            AGENT_SECRET,
            resource=found.resource["resource"],
            scope=" ".join(found.resource["scopes_supported"]),
        )
        headers = {"Authorization": f"Bearer {token['access_token']}", "X-Test": "mcp-call"}
        async with http.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers) as r:
            assert r.status == 200
    _, received = recording_upstream.settled()
    call = [req for req in received if req.header("X-Test") == ["mcp-call"]][-1]
    assert call.header("Authorization") == [f"Bearer {token['access_token']}"]
    assert call.header("X-Authgate-User") == [AGENT_ID]
    records = mcp_gateway.decisions(3)
    assert [r["rule"] for r in records[:2]] == [None, "endpoint:oauth-protected-resource"]
    assert records[-1]["decision"] == "allow"


async def test_the_same_client_with_dpop_where_the_route_requires_it(
    agent_provider: OIDCProvider,
    recording_upstream: RecordingUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    gateway = start_api_gateway(
        agent_provider, recording_upstream.url, tmp_path_factory.mktemp("mcp-dpop"),
        bearer={"dpop": "required"},
    )  # fmt: skip
    try:
        url = f"{gateway.url}/mcp"
        key = DpopKey()
        async with aiohttp.ClientSession() as http:
            found = await discover(http, url)
            assert found.resource["dpop_bound_access_tokens_required"] is True
            algs = found.resource["dpop_signing_alg_values_supported"]
            assert key.alg in algs and key.alg in found.authorization_server["dpop_signing_alg_values_supported"]
            token = await client_credentials(
                found.authorization_server["token_endpoint"], AGENT_ID, AGENT_SECRET,
                resource=url, scope="mcp:tools", dpop=key,
            )  # fmt: skip
            assert token["token_type"] == "DPoP"
            access = token["access_token"]
            plain = {"Authorization": f"Bearer {access}"}
            async with http.post(url, json={}, headers=plain) as refused:
                assert refused.status == 401  # a bound token is never a plain bearer token
            bound = {"Authorization": f"DPoP {access}", "DPoP": key.proof("POST", url, token=access)}
            async with http.post(url, json={}, headers=bound) as r:
                assert r.status == 200
    finally:
        gateway.stop()
    assert [r["reason"] for r in gateway.decisions(4)[-2:]] == ["dpop-proof-missing", "scopes-ok"]


async def test_a_token_short_of_the_scope_gets_insufficient_scope(
    mcp_gateway: Gateway,
) -> None:
    url = f"{mcp_gateway.url}/mcp"
    async with aiohttp.ClientSession() as http:
        found = await discover(http, url)
        token = await client_credentials(
            found.authorization_server["token_endpoint"], AGENT_ID, AGENT_SECRET,
            resource=url, scope="orders.read",
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
        async with http.get(url, headers=headers) as r:
            assert r.status == 403
            challenge = r.headers["WWW-Authenticate"]
            body = await r.json()
    # RFC 6750 §3.1: the error, and the scope the resource needs.
    assert challenge.startswith('Bearer realm="authgate", error="insufficient_scope", scope="mcp:tools"')
    assert body["reason"] == "policy-no-match,scopes-insufficient" and body["request_id"]


async def test_metadata_of_a_path_that_is_no_resource_is_routed_as_usual(mcp_gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{mcp_gateway.url}/.well-known/oauth-protected-resource/other") as r:
            assert r.status == 404  # no route serves it: not ours to describe
        async with http.post(f"{mcp_gateway.url}/.well-known/oauth-protected-resource/mcp") as r:
            assert (r.status, r.headers["Allow"]) == (405, "GET, HEAD")
        async with http.head(f"{mcp_gateway.url}/.well-known/oauth-protected-resource/mcp") as r:
            assert (r.status, await r.read()) == (200, b"")
            assert r.headers["Content-Type"].startswith("application/json")
        # The connection is still good after the HEAD (no body was sent on it).
        async with http.get(f"{mcp_gateway.url}/.well-known/oauth-protected-resource/mcp") as r:
            assert (await r.json())["resource"] == f"{mcp_gateway.url}/mcp"
