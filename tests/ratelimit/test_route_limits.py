"""A route's limits checked together, as the request handler calls them."""

from __future__ import annotations

import pytest

from authgate.config.schema_limits import LoginLimitConfig, RateLimitConfig
from authgate.ratelimit.gcra import GcraResult, Limit
from authgate.ratelimit.headers import LimitStatus, rate_limit_headers
from authgate.ratelimit.limiter import LimiterUnavailable, RateLimiter
from authgate.ratelimit.route_limits import (
    check_limits,
    compile_limits,
    login_key,
    login_limit,
    refusal,
)
from tests.ratelimit.conftest import FakeClock

PER_IP = RateLimitConfig.model_validate({"key": "client_ip", "rate": "10/s", "burst": 3})
PER_USER = RateLimitConfig.model_validate(
    {"key": "user", "rate": "60/m", "burst": 2, "name": "per-user", "headers": False}
)
LIMITS = compile_limits([PER_IP, PER_USER])


async def alice(limiter: RateLimiter, ip: str = "192.0.2.1") -> tuple[bool, ...]:
    statuses = await check_limits(
        limiter, LIMITS, route_id="shop", client_ip=ip, user="alice", session_id=None,
        headers={},
    )  # fmt: skip
    return tuple(s.result.allowed for s in statuses)


def test_compiled_once() -> None:
    assert [item.limit for item in LIMITS] == [Limit(10, 3), Limit(1, 2)]


async def test_every_limit_is_checked_in_config_order(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    assert await alice(limiter) == (True, True)
    assert await alice(limiter) == (True, True)
    # The user's burst of 2 is spent; the per-IP limit still passes (and spends).
    assert await alice(limiter) == (True, False)
    # Another address, same user: refused by the user's limit only.
    assert await alice(limiter, ip="192.0.2.2") == (True, False)
    clock.advance(1.0)
    assert await alice(limiter) == (True, True)


async def test_the_answer_for_a_refused_request(limiter: RateLimiter) -> None:
    for _ in range(2):
        await alice(limiter)
    statuses = await check_limits(
        limiter, LIMITS, route_id="shop", client_ip="192.0.2.1", user="alice", session_id=None,
        headers={},
    )  # fmt: skip
    refused = refusal(statuses)
    assert refused is not None and refused.name == "per-user"
    fields = rate_limit_headers(statuses)
    assert fields["Retry-After"] == "1"
    assert fields["RateLimit"] == '"client_ip-10-per-s";r=0;t=1'  # per-user: headers: false


def test_refusal_names_the_longest_wait() -> None:
    short = LimitStatus("short", 1, 1, GcraResult(False, 0, 0, 0.5, 1))
    long = LimitStatus("long", 1, 60, GcraResult(False, 0, 0, 30.0, 60))
    passed = LimitStatus("ok", 1, 1, GcraResult(True, 0, 0, 0.0, 1))
    assert refusal([short, long, passed]) == long
    assert refusal([passed]) is None


class DownForKey:
    """A limiter whose store fails for one key, like a cluster slot that is down."""

    def __init__(self, bad: str) -> None:
        self.bad = bad

    async def check(self, key: str, limit: Limit, cost: int = 1) -> GcraResult:
        if self.bad in key:
            raise LimiterUnavailable("redis: ConnectionError")
        return GcraResult(True, 0.0, 1, 0.0, 0.1)

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("bad", ["per-user", "client_ip"])
async def test_one_unavailable_check_fails_the_whole_answer(bad: str) -> None:
    with pytest.raises(LimiterUnavailable):
        await alice(DownForKey(bad))


async def test_a_single_limit_is_checked_without_tasks(limiter: RateLimiter) -> None:
    statuses = await check_limits(
        limiter, compile_limits([PER_IP]), route_id="shop", client_ip="192.0.2.1", user=None,
        session_id=None, headers={},
    )  # fmt: skip
    assert [s.result.remaining for s in statuses] == [2]


async def test_login_buckets_per_endpoint_and_ip(limiter: RateLimiter) -> None:
    limit = login_limit(LoginLimitConfig())
    assert limit == Limit(10 / 60, 5)
    start, callback = login_key("start", "192.0.2.1"), login_key("callback", "192.0.2.1")
    assert start != callback and start.startswith(".authgate:")
    assert [(await limiter.check(start, limit)).allowed for _ in range(6)] == [True] * 5 + [False]
    assert (await limiter.check(callback, limit)).allowed
    assert login_key("start", "2001:db8::1") == login_key("start", "2001:db8::2")
