"""Three `authgate serve` processes on one real redis-server: a revocation on one
denies on the others within 1 s (p99 over 50 trials).

Each trial grants bob db-admin through one gateway's admin API, waits until all three
let him in (so each has the grant in its cache: what is measured is the invalidation,
GRANT_CHANGED on the Redis channel, not a cold read), revokes it through one of them,
and polls the two others until each refuses. The time is from just before the revoke
call was sent to the refusal seen.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import aiohttp
import pytest
from redis import asyncio as aioredis

from tests.access_e2e.conftest import AccessGateway, signed_in
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port
from tests.testbed.redis import RedisServer

pytestmark = pytest.mark.slow
TRIALS = 50
BOUND = 1.0


def admin_of(gateway: Gateway) -> tuple[str, str]:
    import yaml

    listen = yaml.safe_load(gateway.config_path.read_text())["server"]["admin_listen"]
    token = (gateway.config_path.parent / "state" / "access-admin.token").read_text().strip()
    return f"http://{listen}", token


async def admin(http: aiohttp.ClientSession, gateway: Gateway, path: str, body: dict[str, Any]) -> dict[str, Any]:
    base, token = admin_of(gateway)
    async with http.post(base + path, json=body, headers={"Authorization": f"Bearer {token}"}) as answer:
        assert answer.status in (200, 201), await answer.text()
        result: dict[str, Any] = await answer.json()
        return result


async def until_status(bob: aiohttp.ClientSession, url: str, wanted: int, limit: float = 10.0) -> float:
    """Poll `url` until it answers `wanted`; the monotonic time it did."""
    deadline = time.monotonic() + limit
    while True:
        async with bob.get(url, allow_redirects=False) as answer:
            seen = time.monotonic()
            if answer.status == wanted:
                return seen
        assert seen < deadline, f"{url} never answered {wanted}"
        await asyncio.sleep(0.005)


async def grant_reads(server: RedisServer) -> int:
    """SMEMBERS calls so far: how the grant store reads a subject's grants."""
    client = aioredis.from_url(server.url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return int(stats.get("cmdstat_smembers", {}).get("calls", 0))


async def reads_no_grants(server: RedisServer, bob: aiohttp.ClientSession, gateways: list[Gateway]) -> None:
    """Warm replicas answer from their cache: a burst on the route reads no grant —
    so what the trials measure is the channel's invalidation, not a store read."""
    before = await grant_reads(server)
    for gateway in gateways:
        for _ in range(20):
            async with bob.get(f"{gateway.url}/db/x") as answer:
                assert answer.status == 200
    assert await grant_reads(server) == before


async def test_a_revocation_reaches_every_replica_within_a_second(
    access_gateway: AccessGateway, redis_server: RedisServer
) -> None:
    prefix = f"replicas-{uuid.uuid4().hex[:8]}:"

    def on_redis(built: dict[str, Any]) -> None:
        built["store"] = {"backend": "redis", "url": redis_server.url, "key_prefix": prefix}
        built["server"] = {"admin_listen": f"127.0.0.1:{free_port()}"}
        built["entitlements"]["db-admin"]["max_duration"] = "1h"

    gateways = [access_gateway(on_redis) for _ in range(3)]
    delays: list[float] = []
    async with signed_in(gateways[0], "bob", "bob-password") as bob:
        async with bob.get(f"{gateways[0].url}/.authgate/userinfo") as info:
            sub = (await info.json())["sub"]
        http = aiohttp.ClientSession()
        try:
            for trial in range(TRIALS):
                origin = gateways[trial % 3]
                others = [g for g in gateways if g is not origin]
                grant = await admin(http, gateways[(trial + 1) % 3], "/access/grants", {
                    "operator": "ops", "provider": "corp", "subject": sub, "user": "bob",
                    "entitlement": "db-admin", "duration": "10m", "reason": f"trial {trial}",
                })  # fmt: skip
                # Every replica lets bob in: the active grant is in each one's cache.
                await asyncio.gather(*(until_status(bob, f"{g.url}/db/x", 200) for g in gateways))
                if trial == 0:
                    await reads_no_grants(redis_server, bob, gateways)
                sent = time.monotonic()
                await admin(http, origin, f"/access/grants/{grant['grant']['id']}/revoke", {"operator": "ops"})
                seen = await asyncio.gather(*(until_status(bob, f"{g.url}/db/x", 403) for g in others))
                delays += [at - sent for at in seen]
        finally:
            await http.close()
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(
        f"\nrevocation -> refusal on the other replicas, {len(delays)} samples: median "
        f"{statistics.median(delays) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )
    assert len(delays) == 2 * TRIALS
    assert p99 <= BOUND
