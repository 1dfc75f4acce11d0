"""The `Regulator` contract, run against the memory regulator and a real Redis.

REGULATION (conftest): 5 failures within 10 minutes ban for 15 minutes. Every test
advances the fake clock the regulator reads; none sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from authgate.ratelimit.limiter import LimiterUnavailable
from authgate.ratelimit.redis_regulation import RedisRegulator
from authgate.ratelimit.regulation import MemoryRegulator, Regulator, regulated_key
from tests.ratelimit.conftest import REGULATION, FakeClock
from tests.testbed.redis import RedisServer

IP = "203.0.113.9"
FIND, BAN = REGULATION.find_time, REGULATION.ban_time


async def fail(regulator: Regulator, n: int, kind: str = "ip", value: str = IP) -> list[bool]:
    return [await regulator.record_failure(kind, value) for _ in range(n)]


async def test_the_fifth_failure_bans(regulator: Regulator) -> None:
    assert await fail(regulator, 4) == [False] * 4
    assert await regulator.is_banned("ip", IP) is None
    assert await fail(regulator, 1) == [True]
    assert await regulator.is_banned("ip", IP) == pytest.approx(BAN, abs=1e-6)


async def test_the_ban_expires_and_counting_starts_afresh(
    regulator: Regulator, clock: FakeClock
) -> None:
    await fail(regulator, 5)
    clock.advance(BAN - 1)
    assert await regulator.is_banned("ip", IP) == pytest.approx(1, abs=1e-6)
    clock.advance(1)
    assert await regulator.is_banned("ip", IP) is None
    assert await fail(regulator, 4) == [False] * 4
    assert await fail(regulator, 1) == [True]


async def test_failures_spread_wider_than_find_time_do_not_ban(
    regulator: Regulator, clock: FakeClock
) -> None:
    for _ in range(4):
        assert await fail(regulator, 1) == [False]
        clock.advance(FIND / 4)
    # The fifth comes exactly find_time after the first: not "within".
    assert await fail(regulator, 1) == [False]
    clock.advance(FIND / 4 - 1)
    # Now the last five span find_time - 1 seconds.
    assert await fail(regulator, 1) == [True]


async def test_failures_while_banned_neither_count_nor_extend(
    regulator: Regulator, clock: FakeClock
) -> None:
    await fail(regulator, 5)
    clock.advance(BAN - 10)
    assert await fail(regulator, 20) == [False] * 20
    assert await regulator.is_banned("ip", IP) == pytest.approx(10, abs=1e-6)
    clock.advance(10)
    assert await regulator.is_banned("ip", IP) is None
    assert await fail(regulator, 1) == [False]


async def test_clients_and_kinds_are_independent(regulator: Regulator) -> None:
    await fail(regulator, 5)
    assert await regulator.is_banned("ip", "203.0.113.10") is None
    assert await regulator.is_banned("sub", IP) is None
    assert await fail(regulator, 4, kind="sub", value="corp|alice") == [False] * 4
    assert await regulator.is_banned("sub", "corp|alice") is None


async def test_an_ipv6_64_is_one_client(regulator: Regulator) -> None:
    for host in range(1, 6):
        await regulator.record_failure("ip", f"2001:db8:7:7::{host:x}")
    assert await regulator.is_banned("ip", "2001:db8:7:7:ffff::1") is not None
    assert await regulator.is_banned("ip", "2001:db8:7:8::1") is None


@pytest.mark.parametrize("subject", ["a subject with spaces", "x" * 5000, "}{"])
async def test_any_subject_can_be_banned(regulator: Regulator, subject: str) -> None:
    assert (await fail(regulator, 5, kind="sub", value=subject))[-1] is True
    assert await regulator.is_banned("sub", subject) is not None


# -- memory only ---------------------------------------------------------------


async def test_memory_forgets_quiet_clients(clock: FakeClock) -> None:
    regulator = MemoryRegulator(REGULATION, clock=clock)
    for n in range(1000):
        await regulator.record_failure("ip", f"10.0.{n // 256}.{n % 256}")
        clock.advance(FIND / 100)
    # The 100 clients with a failure within find_time, and some not yet sampled:
    # bounded by the live count, not by the 1000 seen.
    assert len(regulator) < 200


async def test_memory_is_bounded(clock: FakeClock) -> None:
    regulator = MemoryRegulator(REGULATION, clock=clock, max_keys=50)
    for n in range(500):
        await regulator.record_failure("sub", f"user{n}")
    assert len(regulator) == 50


# -- Redis only ----------------------------------------------------------------


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_redis_keys_share_a_hash_tag_and_carry_ttls(
    redis_server: RedisServer, raw: Redis, clock: FakeClock, prefix: str
) -> None:
    regulator = RedisRegulator.from_url(redis_server.url, prefix, REGULATION, clock=clock)
    try:
        await fail(regulator, 2)
        tagged = f"{prefix}reg:{{{regulated_key('ip', IP)}}}"
        assert await raw.keys(f"{prefix}*") == [f"{tagged}:f".encode()]
        assert 0 < await raw.pttl(f"{tagged}:f") <= FIND * 1000
        await fail(regulator, 3)
        assert await raw.keys(f"{prefix}*") == [f"{tagged}:b".encode()]
        assert 0 < await raw.pttl(f"{tagged}:b") <= BAN * 1000
    finally:
        await regulator.close()


async def test_redis_outage_raises_then_recovers(
    redis_server_factory: Callable[..., RedisServer], clock: FakeClock, prefix: str
) -> None:
    server = redis_server_factory()
    regulator = RedisRegulator.from_url(server.url, prefix, REGULATION, clock=clock)
    try:
        await server.astop()
        with pytest.raises(LimiterUnavailable):
            await regulator.record_failure("ip", IP)
        with pytest.raises(LimiterUnavailable):
            await regulator.is_banned("ip", IP)
        await server.astart()
        assert await fail(regulator, 5) == [False] * 4 + [True]
    finally:
        await regulator.close()
