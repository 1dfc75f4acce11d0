"""Checks of one event-loop tick go to Redis as one script call, and stay exact.

Counted on a real redis-server by its own `INFO commandstats` (EVALSHA calls), not by
instrumenting the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from authgate.ratelimit.gcra import Limit
from authgate.ratelimit.limiter import LimiterUnavailable, MemoryRateLimiter
from authgate.ratelimit.redis_batch import MAX_BATCH, CheckBatcher
from authgate.ratelimit.redis_limiter import RedisRateLimiter
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer

LIMIT = Limit(rate_per_second=10, burst=10)


async def _script_calls(raw: Redis) -> int:
    stats = await raw.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval"))


async def test_a_ticks_checks_are_one_script_call_and_exact(
    redis_server: RedisServer, clock: FakeClock, prefix: str
) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, prefix, clock=clock)
    raw = Redis.from_url(redis_server.url)
    try:
        await limiter.check("warm", LIMIT)  # the script is loaded: no NOSCRIPT below
        before = await _script_calls(raw)
        keys = [f"k{n % 5}" for n in range(40)]  # 8 checks on each of 5 keys
        redis_answers = await asyncio.gather(*(limiter.check(k, LIMIT) for k in keys))
        assert await _script_calls(raw) - before == 1
        # The same checks, one by one, on the memory limiter: identical answers.
        memory = MemoryRateLimiter(clock=clock)
        memory_answers = [await memory.check(k, LIMIT) for k in keys]
        assert [a.allowed for a in redis_answers] == [a.allowed for a in memory_answers]
        assert [a.remaining for a in redis_answers] == [a.remaining for a in memory_answers]
        # And the burst holds across the batch: 10 of 12 on one key.
        same = await asyncio.gather(*(limiter.check("hot", LIMIT) for _ in range(12)))
        assert [a.allowed for a in same] == [True] * 10 + [False] * 2
    finally:
        await raw.aclose()
        await limiter.close()


async def test_a_large_tick_is_split_into_bounded_calls(
    redis_server: RedisServer, clock: FakeClock, prefix: str
) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, prefix, clock=clock)
    raw = Redis.from_url(redis_server.url)
    try:
        await limiter.check("warm", LIMIT)
        before = await _script_calls(raw)
        count = MAX_BATCH * 2 + 1
        answers = await asyncio.gather(*(limiter.check(f"u{n}", LIMIT) for n in range(count)))
        assert all(a.allowed for a in answers)
        assert await _script_calls(raw) - before == 3
    finally:
        await raw.aclose()
        await limiter.close()


async def test_every_check_of_a_failed_call_fails(
    redis_server_factory: Callable[..., RedisServer], clock: FakeClock, prefix: str
) -> None:
    server = redis_server_factory()
    limiter = RedisRateLimiter.from_url(server.url, prefix, clock=clock)
    try:
        await server.astop()
        results = await asyncio.gather(
            *(limiter.check(f"k{n}", LIMIT) for n in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, LimiterUnavailable) for r in results)
    finally:
        await limiter.close()


async def test_a_cancelled_waiter_does_not_disturb_the_others() -> None:
    release = asyncio.Event()

    async def send(items: list[int]) -> list[int]:
        await release.wait()
        return [item * 2 for item in items]

    batcher: CheckBatcher[int] = CheckBatcher(send)
    futures = [batcher.submit(n) for n in range(3)]
    await asyncio.sleep(0)  # the batch is sent
    futures[1].cancel()
    release.set()
    assert await futures[0] == 0 and await futures[2] == 4
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await futures[1]


async def test_a_short_reply_fails_the_batch_instead_of_misassigning() -> None:
    async def send(items: list[int]) -> list[int]:
        return items[:-1]

    batcher: CheckBatcher[int] = CheckBatcher(send)
    futures = [batcher.submit(n) for n in range(3)]
    for future in futures:
        with pytest.raises(RuntimeError, match="2 replies to 3 checks"):
            await future
