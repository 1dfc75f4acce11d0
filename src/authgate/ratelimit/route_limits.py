"""A route's limits, compiled once and checked together: the request path's one call.

Contract: `compile_limits(route.rate_limit)` runs at snapshot build (a `Limit` per
configured limit, so requests never re-derive them). `check_limits(limiter, limits,
route_id=..., client_ip=..., user=..., session_id=..., headers=...)` checks every
limit of the route — concurrently, so on Redis their round trips overlap — and
answers one `LimitStatus` per limit, in config order, for `headers.rate_limit_headers`
and for the decision record (`refusal` names the limit that refused). A request must
pass all of them; each limit that passed has spent its cell even when another
refused, which errs on the strict side and keeps each check one round trip. It
raises `limiter.LimiterUnavailable` if any check could not be made: the caller
applies the route's `on_store_error`.

The gateway's own login endpoints use `login_limit` and `login_key`: one bucket per
client IP and endpoint, so a login (start, then callback) spends one of each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from authgate.config.schema_limits import LoginLimitConfig, RateLimitConfig
from authgate.ratelimit.gcra import GcraResult, Limit
from authgate.ratelimit.headers import LimitStatus
from authgate.ratelimit.keys import ip_part, limit_key
from authgate.ratelimit.limiter import RateLimiter


@dataclass(frozen=True, slots=True)
class RouteLimit:
    config: RateLimitConfig
    limit: Limit


def compile_limits(configs: Sequence[RateLimitConfig]) -> tuple[RouteLimit, ...]:
    return tuple(RouteLimit(c, Limit(c.rate.per_second, c.burst)) for c in configs)


async def check_limits(
    limiter: RateLimiter,
    limits: Sequence[RouteLimit],
    *,
    route_id: str,
    client_ip: str,
    user: str | None,
    session_id: str | None,
    headers: Mapping[str, str],
) -> tuple[LimitStatus, ...]:
    """Every limit's verdict on this request (see the module docstring)."""
    keys = [
        limit_key(item.config, route_id=route_id, client_ip=client_ip, user=user,
                  session_id=session_id, headers=headers)
        for item in limits
    ]  # fmt: skip
    results = await _check_all(limiter, keys, limits)
    return tuple(LimitStatus.of(i.config, r) for i, r in zip(limits, results, strict=True))


async def _check_all(
    limiter: RateLimiter, keys: list[str], limits: Sequence[RouteLimit]
) -> list[GcraResult]:
    if len(limits) == 1:  # the common case: no task overhead
        return [await limiter.check(keys[0], limits[0].limit)]
    found = await asyncio.gather(
        *(limiter.check(k, i.limit) for k, i in zip(keys, limits, strict=True)),
        return_exceptions=True,  # every check finishes; none is left unretrieved
    )
    for item in found:
        if isinstance(item, BaseException):
            raise item
    return [item for item in found if isinstance(item, GcraResult)]


def refusal(statuses: Sequence[LimitStatus]) -> LimitStatus | None:
    """The limit to name for a refused request: of those refusing, the longest wait."""
    refused = [s for s in statuses if not s.result.allowed]
    return max(refused, key=lambda s: s.result.retry_after) if refused else None


def login_limit(config: LoginLimitConfig) -> Limit:
    return Limit(config.rate.per_second, config.burst)


def login_key(endpoint: str, client_ip: str) -> str:
    """The bucket of a client on one login endpoint (`start`, `callback`)."""
    # `.authgate` in a route id's place: no route id can start with a dot, so no
    # route's limit can share these buckets.
    return f".authgate:{endpoint}:ip:{ip_part(client_ip)}"
