"""The gateway's guards: rate limiters, the login-failure regulator, upstream gates.

Contract: `build_limiter(store)` and `build_regulator(store, regulation, events)` make
them on the configured backend — memory for one process, Redis (one atomic script per
check, hash-tagged keys, a client each; bans read through a cache the state events
keep true, `ratelimit/ban_cache.py`) for replicas — without any I/O; `Guards` holds them
with the upstream gates. Which a reload keeps is `authgate.generation`'s table.
Limits are checked by `limit_stage`, login abuse by the login endpoints, load
shedding by forwarding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.config.schema_auth import StoreConfig
from authgate.config.schema_limits import RegulationConfig
from authgate.events import EventChannel
from authgate.ratelimit.limiter import MemoryRateLimiter, RateLimiter
from authgate.ratelimit.regulation import MemoryRegulator, Regulator
from authgate.ratelimit.shedding import UpstreamGates

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

# A limit check must never hold a request long: a Redis that does not answer within
# this is "unavailable", and the route's on_store_error decides.
LIMIT_TIMEOUT = 0.5


@dataclass(frozen=True)
class Guards:
    limiter: RateLimiter
    regulator: Regulator | None
    gates: UpstreamGates


def build_limiter(store: StoreConfig) -> RateLimiter:
    if store.backend == "memory":
        return MemoryRateLimiter()
    # Imported here so a memory-only gateway never loads the Redis client.
    from authgate.ratelimit.redis_limiter import RedisRateLimiter

    return RedisRateLimiter(_client(store), store.key_prefix, owns_client=True)


def build_regulator(
    store: StoreConfig, regulation: RegulationConfig | None, events: EventChannel
) -> Regulator | None:
    if regulation is None:
        return None
    if store.backend == "memory":
        return MemoryRegulator(regulation)
    from authgate.ratelimit.ban_cache import CachedRegulator
    from authgate.ratelimit.redis_regulation import RedisRegulator

    # Its own client, apart from the limiter's: a reload may keep one and replace the other.
    redis = RedisRegulator(_client(store), store.key_prefix, regulation, owns_client=True)
    # Bans read from this process's cache, kept true by the state events.
    return CachedRegulator(redis, events)


def _client(store: StoreConfig) -> Redis | RedisCluster:
    from authgate.sessions.redis_client import redis_client

    return redis_client(store, timeout=LIMIT_TIMEOUT)
