"""Fixtures of the rate-limit tests: a fake clock, and the contract suites' subjects.

`limiter` and `regulator` are each parametrized over the memory implementation and
the Redis one on the session's real `redis_server`, every Redis test under a key
prefix of its own; `regulator` also over the Redis one behind the ban cache and its
state-event channel, as a gateway on Redis runs it. All take the fake clock, so tests advance time instead of
sleeping; only Redis-side TTLs are real time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from authgate.config.schema_limits import RegulationConfig
from authgate.ratelimit.ban_cache import CachedRegulator
from authgate.ratelimit.limiter import MemoryRateLimiter, RateLimiter
from authgate.ratelimit.redis_limiter import RedisRateLimiter
from authgate.ratelimit.redis_regulation import RedisRegulator
from authgate.ratelimit.regulation import MemoryRegulator, Regulator
from tests.events.conftest import subscribed
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer

REGULATION = RegulationConfig(max_failures=5, find_time=600.0, ban_time=900.0)




@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(params=["memory", "redis"])
async def limiter(
    request: pytest.FixtureRequest, clock: FakeClock, prefix: str
) -> AsyncIterator[RateLimiter]:
    built: RateLimiter
    if request.param == "memory":
        built = MemoryRateLimiter(clock=clock)
    else:
        server = request.getfixturevalue("redis_server")
        built = RedisRateLimiter.from_url(server.url, prefix, clock=clock)
    yield built
    await built.close()


async def cached_regulator(server: RedisServer, clock: FakeClock, prefix: str) -> CachedRegulator:
    """The Redis regulator behind the ban cache, its own channel subscribed (as one
    gateway process has it); `close()` closes the channel too."""
    events = await subscribed(server.url, f"{prefix}events")
    redis = RedisRegulator.from_url(server.url, prefix, REGULATION, clock=clock)
    built = CachedRegulator(redis, events, clock=clock)
    closing = built.close

    async def close() -> None:
        await closing()
        await events.close()

    built.close = close  # type: ignore[method-assign]
    return built


@pytest.fixture(params=["memory", "redis", "cached-redis"])
async def regulator(
    request: pytest.FixtureRequest, clock: FakeClock, prefix: str
) -> AsyncIterator[Regulator]:
    built: Regulator
    if request.param == "memory":
        built = MemoryRegulator(REGULATION, clock=clock)
    elif request.param == "redis":
        server = request.getfixturevalue("redis_server")
        built = RedisRegulator.from_url(server.url, prefix, REGULATION, clock=clock)
    else:
        built = await cached_regulator(request.getfixturevalue("redis_server"), clock, prefix)
    yield built
    await built.close()
