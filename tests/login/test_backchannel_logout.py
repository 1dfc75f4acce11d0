"""Back-channel logout across two gateway processes sharing one real Redis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from tests.login.test_login_flow import BROWSER
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, end_session_at_provider, login_at_provider
from tests.testbed.ports import free_port
from tests.testbed.redis import RedisServer


async def test_provider_logout_ends_the_session_in_every_replica(
    oidc_provider: OIDCProvider,
    redis_server: RedisServer,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    port_a, port_b = free_port(), free_port()
    client = oidc_provider.register_client(
        redirect_uris=[f"http://127.0.0.1:{p}/.authgate/callback" for p in (port_a, port_b)],
        post_logout_redirect_uris=[f"http://127.0.0.1:{port_a}/.authgate/logged-out"],
        backchannel_logout_uri=f"http://127.0.0.1:{port_a}/.authgate/backchannel-logout",
    )
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    store = {"backend": "redis", "url": redis_server.url, "key_prefix": f"bcl{port_a}:"}

    def replica(port: int) -> Gateway:
        config = login_config(
            oidc_provider, upstream, tmp_path / "keys.pem", client=client, store=store
        )
        config["server"] = {"listen": f"127.0.0.1:{port}"}
        return gateway_factory(config)

    gateway_a, gateway_b = replica(port_a), replica(port_b)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{gateway_b.url}/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(browser, f"{gateway_b.url}{start}", "bob", "bob-password")
        async with browser.get(callback, allow_redirects=False) as r:
            assert r.status == 302
        session = {c.key: c.value for c in jar if c.key == "authgate"}
        # The session made by B is good at A too: they share nothing but Redis.
        for gateway in (gateway_a, gateway_b):
            async with aiohttp.ClientSession(cookies=session) as api:
                async with api.get(f"{gateway.url}/api", headers={"Accept": "application/json"}) as r:
                    assert r.status == 200, gateway.url
        # Log out at the provider itself (not through a gateway): the provider calls
        # A's back-channel endpoint with a logout_token for this sid.
        await end_session_at_provider(browser, oidc_provider)
    records = gateway_a.decisions(3)
    assert any(r["reason"] == "backchannel-logout" for r in records), records
    for gateway in (gateway_a, gateway_b):
        async with aiohttp.ClientSession(cookies=session) as api:
            async with api.get(f"{gateway.url}/api", headers={"Accept": "application/json"}) as r:
                assert r.status == 401, gateway.url
