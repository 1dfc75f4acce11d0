"""Fixtures of the privileged-access end-to-end tests: the gateway and a signed-in client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.access_e2e.test_access_browser import config
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider, login_at_provider

AccessGateway = Callable[..., Gateway]


@pytest.fixture
def access_gateway(
    oidc_provider: OIDCProvider, echo_upstream: TestServer, gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> AccessGateway:
    """`access_gateway(change=None)`: a gateway with the `db` route needing db-admin."""

    def make(change: Callable[[dict[str, Any]], None] | None = None) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        built = config(oidc_provider, upstream, "http://127.0.0.1:9/hook", tmp_path)
        if change is not None:
            change(built)
        return gateway_factory(built)

    return make


@contextlib.asynccontextmanager
async def signed_in(gateway: Gateway, user: str, password: str, rd: str = "/") -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client holding `user`'s gateway session (signed in at the real provider)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        start = f"{gateway.url}/.authgate/start?rd={rd.replace('/', '%2F')}"
        callback = await login_at_provider(http, start, user, password)
        async with http.get(callback, allow_redirects=False) as answer:
            assert answer.status == 302
        yield http
