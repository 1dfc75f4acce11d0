"""The admin listener of a real gateway: /healthz, /readyz, /metrics scraped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import admin_url
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port
from tests.testbed.redis import RedisServer

SECRETS = {"cookie_secret": ["test-cookie-secret-0123456789abcdefghijklmnop"]}


async def get_json(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, await response.json()


async def scrape(gateway: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{admin_url(gateway)}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def wait_ready(url: str, status: int, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got, body = await get_json(f"{url}/readyz")
        if got == status or time.monotonic() > deadline:
            assert got == status, body
            return body
        await asyncio.sleep(0.2)


def secrets(tmp_path: Path) -> dict[str, Any]:
    return {**SECRETS, "assertion_keys": str(tmp_path / "assertion.pem")}


async def test_healthz_and_readyz_on_the_memory_store(ops_gateway: Callable[..., Gateway]) -> None:
    gateway = ops_gateway()
    assert await get_json(f"{admin_url(gateway)}/healthz") == (200, {"status": "ok"})
    status, body = await get_json(f"{admin_url(gateway)}/readyz")
    assert (status, body) == (200, {"ready": True, "failed": [], "checks": {"store": "ok"}})


async def test_admin_paths_are_not_on_the_main_listener(
    ops_gateway: Callable[..., Gateway],
) -> None:
    gateway = ops_gateway()
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{gateway.url}/metrics", headers={"Host": "nowhere.test"}) as response,
    ):
        assert response.status == 404  # route-not-found, from the gateway's own pipeline


async def test_readiness_follows_redis_down_and_up(
    ops_gateway: Callable[..., Gateway],
    redis_server_factory: Callable[..., RedisServer],
    tmp_path: Path,
) -> None:
    redis = redis_server_factory()
    gateway = ops_gateway(store={"backend": "redis", "url": redis.url}, secrets=secrets(tmp_path))
    url = admin_url(gateway)
    await wait_ready(url, 200)
    await redis.astop()
    body = await wait_ready(url, 503)
    assert body["ready"] is False and body["failed"] == ["store"]
    assert body["checks"]["store"] != "ok"  # says why: the store's own error
    await redis.astart()
    body = await wait_ready(url, 200)
    assert body["checks"] == {"store": "ok"}


async def test_readiness_waits_for_discovery_and_retries_it(
    ops_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    provider = {"id": "corp", "issuer": issuer, "client_id": "gw", "client_secret": "s"}
    gateway = ops_gateway(secrets=secrets(tmp_path), providers=[provider])
    body = await wait_ready(admin_url(gateway), 503)
    assert body["failed"] == ["provider:corp"]
    assert body["checks"]["provider:corp"] == "discovery document not loaded"
    # The provider comes up after the gateway: /readyz itself retries the discovery.
    discovery = web.Application()
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
    }

    async def serve_document(request: web.Request) -> web.Response:
        return web.json_response(document)

    discovery.router.add_get("/.well-known/openid-configuration", serve_document)
    server = TestServer(discovery, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        body = await wait_ready(admin_url(gateway), 200, timeout=20)
        assert body["checks"]["provider:corp"] == "ok"
    finally:
        await server.close()


async def test_metrics_are_scraped(ops_gateway: Callable[..., Gateway]) -> None:
    gateway = ops_gateway()
    seen = await scrape(gateway)
    names = {name for name, _ in seen}
    assert {
        "authgate_decision_log_dropped_total",
        "authgate_requests_in_flight",
        "authgate_sessions_active",
        "process_resident_memory_bytes",
    } <= names
    assert seen[("authgate_sessions_active", ())] == 0
    # The memory store's channel is always connected; the memory store is not cached.
    assert seen[("authgate_state_events_connected", ())] == 1
    assert seen[("authgate_session_cache_entries", ())] == 0


async def gauge_becomes(gateway: Gateway, name: str, value: float, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (seen := (await scrape(gateway)).get((name, ()))) != value:
        assert time.monotonic() < deadline, f"{name} stayed {seen}, not {value}"
        await asyncio.sleep(0.2)


async def test_the_state_event_channel_is_seen_down_and_back_on_redis(
    ops_gateway: Callable[..., Gateway], redis_server_factory: Callable[..., RedisServer]
) -> None:
    redis = redis_server_factory()
    gateway = ops_gateway(
        store={"backend": "redis", "url": redis.url},
        secrets={"cookie_secret": ["test-cookie-secret-0123456789abcdefghijklmnop"]},
    )
    await gauge_becomes(gateway, "authgate_state_events_connected", 1)
    await redis.astop()
    await gauge_becomes(gateway, "authgate_state_events_connected", 0)
    await redis.astart()
    await gauge_becomes(gateway, "authgate_state_events_connected", 1)


async def test_requests_are_counted_by_route_decision_and_reason(
    ops_gateway: Callable[..., Gateway],
) -> None:
    gateway = ops_gateway()
    async with aiohttp.ClientSession() as client:
        for host in ("echo.test", "echo.test", "nowhere.test"):
            async with client.get(f"{gateway.url}/x", headers={"Host": host}) as response:
                await response.read()
    gateway.decisions(3)
    seen = await scrape(gateway)
    allowed = (
        ("code_class", "2xx"), ("decision", "allow"), ("reason", "route-public"), ("route", "echo")
    )
    assert seen[("authgate_requests_total", allowed)] == 2
    assert (
        seen[
            ("authgate_request_duration_seconds_count", (("route", "echo"), ("stage", "upstream")))
        ]
        == 2
    )
    unrouted = [k for k in seen if k[0] == "authgate_requests_total" and ("route", "") in k[1]]
    assert len(unrouted) == 1
