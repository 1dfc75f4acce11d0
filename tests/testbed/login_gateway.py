"""Login gateway fixture: a gateway wired to the real OpenID Provider and the echo upstream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider

COOKIE_SECRET = "test-cookie-secret-0123456789abcdefghijklmnop"


def login_config(
    provider: OIDCProvider,
    upstream: str,
    key_file: Path,
    *,
    client: dict[str, Any] | None = None,
    store: dict[str, Any] | None = None,
    route: dict[str, Any] | None = None,
    provider_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    client = client or {"client_id": provider.client_id, "client_secret": provider.client_secret}
    config: dict[str, Any] = {
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(key_file)},
        "providers": [
            {
                "id": "corp",
                "display_name": "Corp SSO",
                "issuer": provider.issuer,
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
                "scopes": ["openid", "email", "profile", "groups"],
                **(provider_options or {}),
            }
        ],
        "routes": [
            {
                "id": "app",
                "match": {"host": "127.0.0.1"},
                "upstream": upstream,
                "public": ["/public/**"],
                "headers": {"X-Employee-Name": "{claims.given_name}"},
                **(route or {}),
            }
        ],
    }
    if store:
        config["store"] = store
    return config


@pytest.fixture
def login_gateway(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Callable[..., Gateway]:
    """`login_gateway(**overrides)` starts a gateway whose route `app` needs a login."""

    def make(**overrides: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        config = login_config(oidc_provider, upstream, tmp_path / "assertion.pem", **overrides)
        return gateway_factory(config)

    return make
