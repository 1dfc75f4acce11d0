"""The `RateLimiter` contract, run against the memory limiter and a real Redis.

Every test takes `limiter` (parametrized: memory, redis) and the fake clock it
reads: refills and expiry are tested by advancing that clock, never by sleeping.
The Redis-only tests at the end cover what only Redis has: key TTLs, hash tags,
the server's own clock, and surviving an outage.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from authgate.ratelimit.gcra import Limit, gcra_check
from authgate.ratelimit.limiter import (
    LimiterUnavailable,
    MemoryRateLimiter,
    RateLimiter,
)
from authgate.ratelimit.redis_limiter import RedisRateLimiter
from tests.ratelimit.conftest import FakeClock
from tests.testbed.redis import RedisServer

TEN_PER_SECOND = Limit(rate_per_second=10, burst=5)  # T = 100 ms
KEY = "shop:client_ip-10-per-s:ip:192.0.2.10"


async def take(
    limiter: RateLimiter, n: int, key: str = KEY, limit: Limit = TEN_PER_SECOND
) -> list[bool]:
    return [(await limiter.check(key, limit)).allowed for _ in range(n)]


async def test_burst_passes_then_refused(limiter: RateLimiter) -> None:
    remaining = [(await limiter.check(KEY, TEN_PER_SECOND)).remaining for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    refused = await limiter.check(KEY, TEN_PER_SECOND)
    assert not refused.allowed and refused.remaining == 0


async def test_refills_at_the_rate(limiter: RateLimiter, clock: FakeClock) -> None:
    assert await take(limiter, 6) == [True] * 5 + [False]
    clock.advance(0.1)
    assert await take(limiter, 2) == [True, False]
    clock.advance(0.25)
    assert await take(limiter, 3) == [True, True, False]


async def test_retry_after_and_reset_after_are_exact(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    first = await limiter.check(KEY, TEN_PER_SECOND)
    assert first.retry_after == 0.0 and first.reset_after == pytest.approx(0.1, abs=1e-6)
    await take(limiter, 4)
    clock.advance(0.03)
    refused = await limiter.check(KEY, TEN_PER_SECOND)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.07, abs=1e-6)
    assert refused.reset_after == pytest.approx(0.47, abs=1e-6)
    clock.advance(refused.retry_after)
    passed = await limiter.check(KEY, TEN_PER_SECOND)
    assert passed.allowed and passed.reset_after == pytest.approx(0.5, abs=1e-6)


async def test_refusals_cost_nothing(limiter: RateLimiter, clock: FakeClock) -> None:
    await take(limiter, 5)
    for _ in range(20):
        assert not (await limiter.check(KEY, TEN_PER_SECOND)).allowed
    clock.advance(0.1)
    assert await take(limiter, 1) == [True]


async def test_cost_above_one(limiter: RateLimiter, clock: FakeClock) -> None:
    big = await limiter.check(KEY, TEN_PER_SECOND, cost=3)
    assert big.allowed and big.remaining == 2
    refused = await limiter.check(KEY, TEN_PER_SECOND, cost=3)
    assert not refused.allowed and refused.retry_after == pytest.approx(0.1, abs=1e-6)
    assert (await limiter.check(KEY, TEN_PER_SECOND, cost=2)).allowed
    with pytest.raises(ValueError, match="cost"):
        await limiter.check(KEY, TEN_PER_SECOND, cost=6)


async def test_cost_zero_reads_without_spending(limiter: RateLimiter) -> None:
    await take(limiter, 2)
    for _ in range(3):
        peek = await limiter.check(KEY, TEN_PER_SECOND, cost=0)
        assert peek.allowed and peek.remaining == 3
    assert await take(limiter, 4) == [True, True, True, False]


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    assert await take(limiter, 6, key="a") == [True] * 5 + [False]
    assert await take(limiter, 5, key="b") == [True] * 5
    assert await take(limiter, 1, key="a") == [False]


async def test_long_idle_gives_the_full_burst_again(limiter: RateLimiter, clock: FakeClock) -> None:
    await take(limiter, 6)
    clock.advance(3600)
    assert await take(limiter, 6) == [True] * 5 + [False]


async def test_a_changed_limit_applies_to_the_same_key(limiter: RateLimiter) -> None:
    # After a config reload, the stored TAT is read under the new limit.
    await take(limiter, 5)
    bigger = Limit(rate_per_second=10, burst=8)
    assert await take(limiter, 4, limit=bigger) == [True, True, True, False]


async def test_concurrent_checks_never_share_the_last_cell(limiter: RateLimiter) -> None:
    results = await asyncio.gather(*(limiter.check(KEY, TEN_PER_SECOND) for _ in range(50)))
    assert sum(r.allowed for r in results) == 5
    assert sorted(r.remaining for r in results if r.allowed) == [0, 1, 2, 3, 4]


async def test_answers_are_gcra_check_on_the_stored_tat(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    # Memory and the Lua script must both be exactly the pure function.
    steps = random.Random(6)
    limit, tat = Limit(rate_per_second=7, burst=4), None
    for _ in range(300):
        clock.advance(steps.choice([0.0, 0.0, 0.01, 1 / 7, 0.2, 0.5]))
        cost = steps.choice([0, 1, 1, 1, 2])
        expected = gcra_check(tat, clock.now, limit, cost)
        got = await limiter.check(KEY, limit, cost)
        assert got.allowed == expected.allowed
        assert got.remaining == expected.remaining
        assert got.retry_after == pytest.approx(expected.retry_after, abs=1e-9)
        assert got.reset_after == pytest.approx(expected.reset_after, abs=1e-9)
        tat = expected.new_tat


# -- memory only ---------------------------------------------------------------


async def test_memory_forgets_keys_whose_tat_passed(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    for n in range(1000):
        await limiter.check(f"k{n}", TEN_PER_SECOND)
        clock.advance(0.05)  # each key's TAT (100 ms) passes two checks later
    assert len(limiter) <= 4


async def test_memory_is_bounded_under_a_flood_of_keys(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock=clock, max_keys=100)
    for n in range(1000):
        await limiter.check(f"flood{n}", TEN_PER_SECOND)
    assert len(limiter) == 100
    # The newest keys are the ones kept.
    assert not (await limiter.check("flood999", TEN_PER_SECOND, cost=5)).allowed


# -- Redis only ----------------------------------------------------------------


@pytest.fixture
async def redis_limiter(
    redis_server: RedisServer, clock: FakeClock, prefix: str
) -> AsyncIterator[RedisRateLimiter]:
    limiter = RedisRateLimiter.from_url(redis_server.url, prefix, clock=clock)
    yield limiter
    await limiter.close()


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_redis_keys_are_hash_tagged_and_carry_a_ttl(
    redis_limiter: RedisRateLimiter, raw: Redis, prefix: str
) -> None:
    await take(redis_limiter, 3)
    key = redis_limiter.store_key(KEY)
    assert key == f"{prefix}rl:{{{KEY}}}"
    # The whole logical key is the cluster hash tag: one key, one slot.
    tag = re.fullmatch(r"[^{]*\{([^}]+)\}", key)
    assert tag is not None and tag.group(1) == KEY
    ttl = await raw.pttl(key)
    assert 1000 < ttl <= 1300  # until the TAT (3 cells of 100 ms), and a second
    assert await raw.keys(f"{prefix}*") == [key.encode()]


async def test_redis_refusal_and_read_only_write_nothing(
    redis_limiter: RedisRateLimiter, raw: Redis, prefix: str
) -> None:
    await redis_limiter.check(KEY, TEN_PER_SECOND, cost=0)
    assert await raw.keys(f"{prefix}*") == []
    await take(redis_limiter, 5)
    stored = await raw.get(redis_limiter.store_key(KEY))
    await take(redis_limiter, 3)
    assert await raw.get(redis_limiter.store_key(KEY)) == stored


async def test_redis_server_time(redis_server: RedisServer, prefix: str) -> None:
    def broken_clock() -> float:
        raise AssertionError("server_time must not read the local clock")

    limiter = RedisRateLimiter.from_url(
        redis_server.url, prefix, clock=broken_clock, server_time=True
    )
    try:
        slow = Limit(rate_per_second=0.01, burst=3)  # no refill within the test
        assert await take(limiter, 4, limit=slow) == [True, True, True, False]
        refused = await limiter.check(KEY, slow)
        assert refused.retry_after == pytest.approx(100, abs=5)
    finally:
        await limiter.close()


async def test_redis_script_is_reloaded_after_script_flush(
    redis_limiter: RedisRateLimiter, raw: Redis
) -> None:
    await take(redis_limiter, 1)
    await raw.script_flush()  # what a restart or failover does
    assert await take(redis_limiter, 1) == [True]


async def test_redis_outage_raises_then_recovers(
    redis_server_factory: Callable[..., RedisServer], clock: FakeClock, prefix: str
) -> None:
    server = redis_server_factory()
    limiter = RedisRateLimiter.from_url(server.url, prefix, clock=clock)
    try:
        assert await take(limiter, 1) == [True]
        await server.astop()
        with pytest.raises(LimiterUnavailable, match="redis"):
            await limiter.check(KEY, TEN_PER_SECOND)
        await server.astart()
        # The same limiter, no restart: reconnects and loads its script again.
        assert await take(limiter, 5) == [True] * 5
    finally:
        await limiter.close()
