"""The ban cache (`CachedRegulator`) across two processes' worth of regulators on one
real Redis, each with its own state-event channel: a check answered from the cache
sends Redis nothing; a ban made on one is enforced on the other within 1 s although
the other had "not banned" cached; a lost channel drops everything, and an outage
still raises `LimiterUnavailable` (the login endpoints then let logins through, as
without the cache). The `Regulator` contract suite runs on it too (conftest).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from authgate.ratelimit.ban_cache import CachedRegulator
from authgate.ratelimit.limiter import LimiterUnavailable
from tests.events.conftest import until
from tests.ratelimit.conftest import REGULATION, cached_regulator
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer, commands

IP = "198.51.100.7"


@pytest.fixture
async def server(redis_server_factory: Callable[..., RedisServer]) -> RedisServer:
    return redis_server_factory()


@pytest.fixture
async def pair(
    server: RedisServer, clock: FakeClock, prefix: str
) -> AsyncIterator[tuple[CachedRegulator, CachedRegulator]]:
    one = await cached_regulator(server, clock, prefix)
    two = await cached_regulator(server, clock, prefix)
    yield one, two
    await one.close()
    await two.close()


async def test_a_cached_answer_sends_redis_nothing(
    server: RedisServer, pair: tuple[CachedRegulator, ...]
) -> None:
    one, _ = pair
    assert await one.is_banned("ip", IP) is None  # read through, kept
    before = await commands(server)
    for _ in range(100):
        assert await one.is_banned("ip", IP) is None
    assert await commands(server) == before


async def test_a_ban_on_one_process_is_enforced_on_the_other_within_a_second(
    pair: tuple[CachedRegulator, ...],
) -> None:
    one, two = pair
    assert await two.is_banned("ip", IP) is None  # "not banned", cached for 5 s
    for _ in range(REGULATION.max_failures):
        banned = await one.record_failure("ip", IP)
    assert banned
    since = time.monotonic()
    while await two.is_banned("ip", IP) is None:
        assert time.monotonic() - since < 1.0, "the ban is not enforced on the other"
        await asyncio.sleep(0.002)
    left = await two.is_banned("ip", IP)
    assert left is not None and left > REGULATION.ban_time - 5


async def test_a_lost_channel_drops_everything_and_an_outage_still_raises(
    server: RedisServer, pair: tuple[CachedRegulator, ...]
) -> None:
    one, _ = pair
    assert await one.is_banned("ip", IP) is None
    assert len(one) == 1
    await server.astop()
    await until(lambda: len(one) == 0, what="the cache dropped")
    with pytest.raises(LimiterUnavailable):
        await one.is_banned("ip", IP)
    await server.astart()
