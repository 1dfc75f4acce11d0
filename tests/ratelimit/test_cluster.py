"""The Redis limiter and regulator on a real 3-master Redis Cluster.

The limiter's script names one key and the regulator's two keys share one hash
tag, so both run on a cluster; a layout mistake would fail here with CROSSSLOT.
Keys of different clients land on different masters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio.cluster import ClusterNode, RedisCluster

from authgate.ratelimit.gcra import Limit
from authgate.ratelimit.redis_limiter import RedisRateLimiter
from authgate.ratelimit.redis_regulation import RedisRegulator
from tests.ratelimit.conftest import REGULATION, FakeClock
from tests.testbed.redis_cluster import RedisClusterBed

LIMIT = Limit(rate_per_second=10, burst=3)


@pytest.fixture
async def cluster(redis_cluster: RedisClusterBed) -> AsyncIterator[RedisCluster]:
    addresses = [node.rsplit(":", 1) for node in redis_cluster.nodes]
    nodes = [ClusterNode(host, int(port)) for host, port in addresses]
    client = RedisCluster(startup_nodes=nodes, decode_responses=False)
    yield client
    await client.aclose()


async def test_limiter_on_a_cluster(cluster: RedisCluster, clock: FakeClock, prefix: str) -> None:
    limiter = RedisRateLimiter(cluster, prefix, clock=clock)
    keys = [f"shop:per-ip:ip:198.51.100.{n}" for n in range(30)]
    for key in keys:
        outcomes = [(await limiter.check(key, LIMIT)).allowed for _ in range(4)]
        assert outcomes == [True, True, True, False]
    masters = {cluster.get_node_from_key(limiter.store_key(key)) for key in keys}
    assert len({master.name for master in masters if master is not None}) > 1


async def test_regulator_on_a_cluster(cluster: RedisCluster, clock: FakeClock, prefix: str) -> None:
    regulator = RedisRegulator(cluster, prefix, REGULATION, clock=clock)
    for n in range(10):
        client = f"203.0.113.{n}"
        bans = [await regulator.record_failure("ip", client) for _ in range(5)]
        assert bans == [False] * 4 + [True]
        assert await regulator.is_banned("ip", client) == pytest.approx(REGULATION.ban_time)


async def test_one_ticks_checks_on_many_slots_are_batched_per_slot(
    cluster: RedisCluster, clock: FakeClock, prefix: str
) -> None:
    # Checks of one tick on keys of many slots and masters, on a client never used
    # before (redis_limiter.py: the first use initializes it once): no CROSSSLOT, no
    # half-made connection, each key exact and in order.
    limiter = RedisRateLimiter(cluster, prefix, clock=clock)
    keys = [f"shop:per-ip:ip:203.0.113.{n}" for n in range(20)]
    results = await asyncio.gather(*(limiter.check(key, LIMIT) for key in keys * 4))
    by_key: dict[str, list[bool]] = {}
    for key, result in zip(keys * 4, results, strict=True):
        by_key.setdefault(key, []).append(result.allowed)
    assert all(outcomes == [True, True, True, False] for outcomes in by_key.values())
