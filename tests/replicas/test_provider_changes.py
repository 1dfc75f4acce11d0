"""Changes that come from the provider, across three gateway processes (real
oidc-provider, real Redis and the 3-master cluster): a back-channel logout received
by one replica denies on the other two within 1 s; a refresh made by one replica is
what the other two pass upstream within 1 s — before their own copy would have
needed a refresh — with one token request in all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.login.test_login_flow import BROWSER
from tests.replicas.conftest import Replicas, redis_store_config, start_replicas
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider, end_session_at_provider, login_at_provider
from tests.testbed.ports import free_port
from tests.testbed.redis import RedisServer
from tests.testbed.redis_cluster import RedisClusterBed

BOUND = 1.0


@pytest.fixture(params=["redis", "cluster"])
def target(request: pytest.FixtureRequest) -> RedisServer | RedisClusterBed:
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return server
    cluster: RedisClusterBed = request.getfixturevalue("redis_cluster")
    return cluster


async def browser_login(browser: aiohttp.ClientSession, gateway: Gateway, user: str) -> str:
    """Log in at `gateway` through the provider; the session cookie's value."""
    async with browser.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=False) as r:
        start = r.headers["Location"]
    callback = await login_at_provider(browser, f"{gateway.url}{start}", user, f"{user}-password")
    async with browser.get(callback, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
    return next(c.value for c in browser.cookie_jar if c.key == "authgate")


def registered(provider: OIDCProvider, ports: list[int], **extra: Any) -> dict[str, Any]:
    return provider.register_client(
        redirect_uris=[f"http://127.0.0.1:{p}/.authgate/callback" for p in ports], **extra
    )


async def until_all(
    replicas: Replicas, gateways: list[Gateway], done: Callable[[int, dict[str, Any]], bool],
    cookie: str, what: str,
) -> None:  # fmt: skip
    since = time.monotonic()
    waiting = list(gateways)
    while waiting:
        status, echo = await replicas.answer(waiting[0], cookie)
        if done(status, echo):
            waiting.pop(0)
        elif time.monotonic() - since > BOUND:
            pytest.fail(f"{waiting[0].url}: {what} not seen within {BOUND}s ({status})")


async def test_a_back_channel_logout_at_one_replica_denies_on_the_others(
    target: RedisServer | RedisClusterBed,
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    ports = [free_port() for _ in range(3)]
    client = registered(
        oidc_provider, ports,
        backchannel_logout_uri=f"http://127.0.0.1:{ports[0]}/.authgate/backchannel-logout",
    )  # fmt: skip
    async for replicas in start_replicas(
        gateway_factory, oidc_provider, echo_upstream, tmp_path, redis_store_config(target),
        client=client, ports=ports,
    ):  # fmt: skip
        receiver, *others = replicas.gateways
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            cookie = await browser_login(browser, others[0], "bob")
            for gateway in replicas.gateways:  # cached by each
                assert await replicas.status(gateway, cookie) == 200
            await end_session_at_provider(browser, oidc_provider)
        assert any(r["reason"] == "backchannel-logout" for r in receiver.decisions(3))
        await until_all(replicas, others, lambda s, _: s == 401, cookie, "the logout")


def access_token(echo: dict[str, Any]) -> str:
    return next(v for k, v in echo["headers"] if k.lower() == "x-forwarded-access-token")


async def test_a_refresh_at_one_replica_is_what_the_others_pass_upstream(
    target: RedisServer | RedisClusterBed,
    oidc_provider_factory: Callable[..., OIDCProvider],
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    provider = oidc_provider_factory(ttl={"AccessToken": 8})
    ports = [free_port() for _ in range(3)]
    async for replicas in start_replicas(
        gateway_factory, provider, echo_upstream, tmp_path, redis_store_config(target),
        client=registered(provider, ports), ports=ports, route={"pass_access_token": True},
        # Only the first replica finds the token due after 2.5 s: the others pass the
        # new one within the bound only if they heard of the refresh (their copy's
        # token is due 4 s later).
        sessions=[{"refresh_before": "6s"}, {"refresh_before": "1s"}, {"refresh_before": "1s"}],
    ):  # fmt: skip
        refresher, *others = replicas.gateways
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            cookie = await browser_login(browser, refresher, "alice")
        first = set()
        for gateway in replicas.gateways:  # each caches the session, token 1
            status, echo = await replicas.answer(gateway, cookie)
            assert status == 200
            first.add(access_token(echo))
        assert len(first) == 1
        await asyncio.sleep(2.5)  # about 5 s left: due at the first replica only
        status, echo = await replicas.answer(refresher, cookie)
        assert status == 200
        fresh = access_token(echo)
        assert fresh not in first
        await until_all(
            replicas, others, lambda s, e: s == 200 and access_token(e) == fresh, cookie,
            "the refreshed token",
        )  # fmt: skip
    assert provider.log_text(200_000).count("POST /token") == 2  # the code, one refresh

