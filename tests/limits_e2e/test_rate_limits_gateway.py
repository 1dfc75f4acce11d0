"""Rate limits through real gateway processes and a real Redis (issue 6's must-shows)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET, login_config
from tests.testbed.oidc import OIDCProvider
from tests.testbed.redis import RedisServer

API = {"Accept": "application/json", "Host": "echo.test"}


def limited_config(upstream: str, store: dict[str, Any] | None, **route: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "secrets": {"cookie_secret": COOKIE_SECRET},
        "routes": [
            {
                "id": "api",
                "match": {"host": "echo.test"},
                "upstream": upstream,
                "public": ["/**"],
                **route,
            }
        ],
    }
    if store:
        config["store"] = store
    return config


async def test_limit_is_exact_across_three_replicas(
    echo_upstream: TestServer,
    redis_server: RedisServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    store = {"backend": "redis", "url": redis_server.url, "key_prefix": f"exact{time.time_ns()}:"}
    limit = {"key": "route", "rate": "100/m", "burst": 10}
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    replicas = [gateway_factory(limited_config(upstream, store, rate_limit=limit)) for _ in range(3)]
    statuses: list[int] = []
    started = time.monotonic()
    async with aiohttp.ClientSession() as client:

        async def one(i: int) -> None:
            async with client.get(f"{replicas[i % 3].url}/n{i}", headers=API) as r:
                await r.read()
                statuses.append(r.status)

        for batch in range(0, 1000, 50):  # bounded: 50 in flight at a time
            await asyncio.gather(*(one(i) for i in range(batch, batch + 50)))
    elapsed = time.monotonic() - started
    allowed = statuses.count(200)
    assert statuses.count(200) + statuses.count(429) == 1000
    exact = 10 + int(elapsed * 100 / 60)  # the burst, plus what the rate refilled meanwhile
    assert exact - 10 <= allowed <= exact, (allowed, exact, elapsed)


async def test_429_carries_retry_after_ratelimit_fields_and_a_request_id(
    echo_upstream: TestServer, gateway_factory: Callable[..., Gateway]
) -> None:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    limit = {"key": "client_ip", "rate": "60/m", "burst": 2, "name": "per-ip"}
    gateway = gateway_factory(limited_config(upstream, None, rate_limit=limit))
    async with aiohttp.ClientSession() as client:
        answers = []
        for _ in range(3):
            async with client.get(f"{gateway.url}/x", headers=API) as r:
                answers.append((r.status, r.headers.copy(), await r.text()))
    (s1, h1, _), _, (s3, h3, body3) = answers
    assert s1 == 200 and h1["RateLimit-Policy"] == '"per-ip";q=60;w=60'
    assert h1["RateLimit"].startswith('"per-ip";r=1;t=')
    assert s3 == 429
    assert int(h3["Retry-After"]) >= 1
    assert h3["RateLimit"].startswith('"per-ip";r=0;t=')
    assert '"request_id"' in body3 and h3["X-Request-Id"] in body3
    record = gateway.decisions(3)[-1]
    assert (record["decision"], record["reason"], record["rule"]) == (
        "rate_limited", "rate-limited", "routes[api].rate_limit[per-ip]",
    )


async def test_failed_callbacks_ban_the_ip_until_the_ban_expires(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = login_config(oidc_provider, upstream, tmp_path / "keys.pem")
    # Three failures within a minute ban for two seconds.
    config["limits"] = {"regulation": {"max_failures": 3, "find_time": "1m", "ban_time": "2s"}}
    gateway = gateway_factory(config)
    json_only = {"Accept": "application/json"}
    async with aiohttp.ClientSession() as client:
        for _ in range(3):  # forged callbacks: no login cookie, unknown state
            async with client.get(f"{gateway.url}/.authgate/callback?state=x&code=y", headers=json_only) as r:
                assert r.status == 400
        async with client.get(f"{gateway.url}/.authgate/start", headers=json_only, allow_redirects=False) as r:
            assert r.status == 429
            assert (await r.json())["reason"] == "login-banned"
            assert 1 <= int(r.headers["Retry-After"]) <= 2
        await asyncio.sleep(2.2)
        async with client.get(f"{gateway.url}/.authgate/start", headers=json_only, allow_redirects=False) as r:
            assert r.status == 302  # the ban is over
    decisions = [(r["decision"], r["reason"]) for r in gateway.decisions(5)]
    assert decisions[3] == ("rate_limited", "login-banned")


async def test_redis_outage_open_serves_closed_refuses_both_recover(
    echo_upstream: TestServer,
    redis_server_factory: Callable[..., RedisServer],
    gateway_factory: Callable[..., Gateway],
) -> None:
    redis = redis_server_factory()
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    limit = {"key": "client_ip", "rate": "6000/m", "burst": 100}
    config = limited_config(upstream, {"backend": "redis", "url": redis.url}, rate_limit=limit)
    config["routes"].append(
        {**config["routes"][0], "id": "strict", "match": {"host": "strict.test"}, "on_store_error": "closed"}
    )
    gateway = gateway_factory(config)

    async def status(host: str) -> int:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{gateway.url}/r", headers={**API, "Host": host}) as r:
                return r.status

    assert (await status("echo.test"), await status("strict.test")) == (200, 200)
    redis.stop()
    assert (await status("echo.test"), await status("strict.test")) == (200, 503)
    redis.start()
    for _ in range(50):  # recovers by itself, no restart
        if (await status("echo.test"), await status("strict.test")) == (200, 200):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("did not recover after Redis came back")
    reasons = [(r["route"], r["decision"], r["reason"]) for r in gateway.decisions(6)]
    assert ("api", "allow", "route-public,rate-limit-unchecked") in reasons
    assert ("strict", "error", "rate-limit-unavailable") in reasons
