"""Fixtures of the agent tests: a real provider that issues JWT access tokens to a
machine client, and gateways with bearer routes in front of a recording upstream.

`agent_provider` (module): oidc-provider with client credentials and resource
indicators on (`resource_servers`, "*": any indicator), DPoP on (its default), one confidential client
`agent` allowed only the client_credentials grant. `start_api_gateway(config, tmp)`
is `tests.testbed.gateway.start_gateway` with the gateway's own port picked first,
because the route's resource (and so the tokens' `aud`) names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dataplane.recording_upstream import recording_upstream
from tests.testbed.gateway import Gateway, start_gateway
from tests.testbed.login_gateway import COOKIE_SECRET
from tests.testbed.oidc import OIDCProvider, make_client, running_oidc_provider
from tests.testbed.ports import free_port

__all__ = ["recording_upstream"]  # the fixture, for this package

AGENT_ID = "agent"
AGENT_SECRET = "agent-secret-0123456789abcdefghij"
SCOPES = "mcp:tools orders.read"


def agent_client() -> dict[str, Any]:
    return make_client(
        AGENT_ID, AGENT_SECRET, redirect_uris=[], grant_types=["client_credentials"], response_types=[]
    )


@pytest.fixture(scope="module")
def agent_provider() -> Iterator[OIDCProvider]:
    # Any resource indicator ("*": the gateways' ports are picked per test) gets a
    # JWT access token (RFC 9068) with aud = that indicator.
    servers = {"*": {"scope": SCOPES, "accessTokenFormat": "jwt", "jwt": {"sign": {"alg": "ES256"}}}}
    features = {
        "features": {"clientCredentials": {"enabled": True}},
        # The library's default DPoP algorithms are ES256 and EdDSA: RSA keys too.
        "enabledJWA": {"dPoPSigningAlgValues": ["ES256", "RS256", "PS256", "EdDSA"]},
    }
    with running_oidc_provider(clients=[agent_client()], resource_servers=servers, options=features) as provider:
        yield provider


def api_config(
    provider: OIDCProvider,
    upstream: str,
    port: int,
    *,
    bearer: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One bearer route `mcp` on 127.0.0.1 under /mcp; its resource is
    http://127.0.0.1:<port>/mcp, which the tokens' `aud` names."""
    resource = f"http://127.0.0.1:{port}/mcp"
    return {
        "server": {"listen": f"127.0.0.1:{port}", **(server or {})},
        "secrets": {"cookie_secret": COOKIE_SECRET},
        "providers": [{"id": "op", "issuer": provider.issuer, "client_id": "gateway"}],
        "routes": [
            {
                "id": "mcp",
                "match": {"host": "127.0.0.1", "path_prefix": "/mcp"},
                "upstream": upstream,
                "authenticate": ["bearer"],
                "bearer": {"audiences": [resource], **(bearer or {})},
                "policy": policy or {"allow": [{"scopes": ["mcp:tools"]}]},
            }
        ],
        **extra,
    }


def start_api_gateway(
    provider: OIDCProvider, upstream: str, workdir: Path, **options: Any
) -> Gateway:
    port = free_port("127.0.0.1")
    return start_gateway(api_config(provider, upstream, port, **options), workdir)
