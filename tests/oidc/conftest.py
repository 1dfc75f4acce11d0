"""Fixtures of the OIDC tests: the rogue provider served over HTTP, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from authgate.config.schema_auth import ProviderConfig
from authgate.oidc.client import OIDCClient
from tests.oidc.rogue import RogueProvider, ec_key, rsa_key

CLIENT_ID = "gateway"
CLIENT_SECRET = "gateway-secret:with/odd+chars é"


@pytest.fixture
async def rogue(aiohttp_server: AiohttpServer) -> RogueProvider:
    provider = RogueProvider(published=[rsa_key("rsa-1"), ec_key("ec-1")])
    server = await aiohttp_server(provider.app())
    provider.issuer = f"http://{server.host}:{server.port}"
    return provider


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


def provider_config(issuer: str, **overrides: Any) -> ProviderConfig:
    values: dict[str, Any] = {
        "id": "rogue",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return ProviderConfig(**(values | overrides))


ClientFactory = Callable[..., Awaitable[OIDCClient]]


@pytest.fixture
def rogue_client(rogue: RogueProvider, http: aiohttp.ClientSession) -> ClientFactory:
    """`await rogue_client(**config_overrides, timeout=..., jwks_refetch_interval=...)`."""

    async def make(
        *, timeout: float = 5.0, jwks_refetch_interval: float = 60.0, **overrides: Any
    ) -> OIDCClient:
        config = provider_config(rogue.issuer, **overrides)
        return OIDCClient(
            config, http, timeout=timeout, jwks_refetch_interval=jwks_refetch_interval
        )

    return make
