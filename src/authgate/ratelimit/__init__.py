"""Rate limits, login-abuse regulation and load shedding.

Contract: the public names below; each module states its own contract.

    gcra         the algorithm, pure: `Limit`, `gcra_check` -> `GcraResult`
    limiter      `RateLimiter` interface, `MemoryRateLimiter`, `LimiterUnavailable`
    keys         which bucket a request falls in: `limit_key`, pure
    headers      RateLimit-Policy / RateLimit / Retry-After values, pure
    regulation   `Regulator` interface (ban after repeated failures), `MemoryRegulator`
    shedding     `InflightGate` / `UpstreamGates`: a cap on in-flight requests
    route_limits a route's limits compiled and checked together: the handler's call
    redis_limiter, redis_regulation   the Redis implementations

The Redis client is imported only by the `redis_*` modules, when a Redis limiter or
regulator is built, so the rest stays importable (and timeable) without it.
"""

from authgate.ratelimit.gcra import GcraResult, Limit, gcra_check
from authgate.ratelimit.headers import LimitStatus, rate_limit_headers, retry_after
from authgate.ratelimit.keys import limit_key
from authgate.ratelimit.limiter import (
    LimiterUnavailable,
    MemoryRateLimiter,
    RateLimiter,
)
from authgate.ratelimit.regulation import MemoryRegulator, Regulator
from authgate.ratelimit.route_limits import (
    RouteLimit,
    check_limits,
    compile_limits,
    login_key,
    login_limit,
    refusal,
)
from authgate.ratelimit.shedding import InflightGate, Overloaded, UpstreamGates

__all__ = [
    "GcraResult",
    "InflightGate",
    "Limit",
    "LimitStatus",
    "LimiterUnavailable",
    "MemoryRateLimiter",
    "MemoryRegulator",
    "Overloaded",
    "RateLimiter",
    "Regulator",
    "RouteLimit",
    "UpstreamGates",
    "check_limits",
    "compile_limits",
    "gcra_check",
    "limit_key",
    "login_key",
    "login_limit",
    "rate_limit_headers",
    "refusal",
    "retry_after",
]
