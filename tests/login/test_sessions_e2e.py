"""Sessions end to end: rotating refresh tokens, several providers, safe return URLs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from authgate.demo.state import prepare_demo_state
from tests.login.test_login_flow import BROWSER, log_in
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider


async def test_rotating_refresh_tokens_never_log_users_out(
    oidc_provider_factory: Callable[..., OIDCProvider],
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    # Access tokens live 2 s and the gateway refreshes 1 s before expiry, so every
    # wave of requests (2.1 s apart) needs exactly one refresh. The provider rotates refresh tokens and
    # revokes the whole grant when a used one is replayed: if two requests of a wave
    # both redeemed it, the user would be logged out.
    provider = oidc_provider_factory(ttl={"AccessToken": 2})
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = login_config(provider, upstream, tmp_path / "keys.pem")
    config["routes"][0]["pass_access_token"] = True
    config["sessions"] = {"refresh_before": "1s"}
    gateway = gateway_factory(config)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await log_in(client, gateway, "/")
        tokens_seen: set[str] = set()
        for wave in range(3):
            await asyncio.sleep(2.1)  # the access token has expired

            async def one() -> str:
                async with client.get(f"{gateway.url}/w", headers={"Accept": "application/json"}) as r:
                    assert r.status == 200, await r.text()
                    echo = await r.json()
                return next(v for k, v in echo["headers"] if k.lower() == "x-forwarded-access-token")

            tokens = set(await asyncio.gather(*(one() for _ in range(20))))
            assert len(tokens) == 1, f"wave {wave}: one refresh, one token for all"
            tokens_seen |= tokens
    assert len(tokens_seen) == 3  # a fresh access token per wave
    refreshes = provider.log_text(200_000).count("POST /token")
    assert refreshes == 4  # the code exchange, then exactly one refresh per wave


async def test_several_providers_get_a_chooser(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = login_config(oidc_provider, upstream, tmp_path / "keys.pem")
    second: dict[str, Any] = dict(config["providers"][0], id="partner", display_name="Partner <b>ID</b>")
    config["providers"].append(second)
    gateway = gateway_factory(config)
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/deep/page", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        async with client.get(f"{gateway.url}{start}", allow_redirects=False) as r:
            assert r.status == 302
            chooser = r.headers["Location"]
        assert chooser.startswith("/.authgate/sign-in?rd=")
        async with client.get(f"{gateway.url}{chooser}") as r:
            page = await r.text()
    assert "Corp SSO" in page and "Partner &lt;b&gt;ID&lt;/b&gt;" in page
    assert "provider=corp" in page and "provider=partner" in page


@pytest.mark.parametrize(
    "rd",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://127.0.0.1.evil.example/",
        "http://evil.example@127.0.0.1/",
    ],
)
async def test_return_url_never_leaves_routed_hosts(
    login_gateway: Callable[..., Gateway], rd: str
) -> None:
    gateway = login_gateway()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        callback = await login_at_provider(
            client, f"{gateway.url}/.authgate/start?{urlencode({'rd': rd})}", "alice", "alice-password"
        )
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == f"{gateway.url}/"


def test_demo_config_is_valid(tmp_path: Path) -> None:
    # The demo's state folder as `make demo` prepares it (its own cookie secret).
    state = prepare_demo_state(tmp_path)
    result = subprocess.run(
        # --config-only: a running demo may hold its port.
        [sys.executable, "-m", "authgate", "check-config", "--config-only", "config/demo.yaml"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "AUTHGATE_DEMO_STATE": str(state)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
