"""The gateway's guards: rate limiters, the login-failure regulator, upstream gates.

Contract: `build_guards(config)` makes them on the configured backend — memory for
one process, Redis (one atomic script per check, hash-tagged keys) for replicas —
without any I/O; `close_guards` closes them. Limits are checked by `limit_stage`,
login abuse by the login endpoints, load shedding by forwarding.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate.config.schema import GatewayConfig
from authgate.ratelimit.limiter import MemoryRateLimiter, RateLimiter
from authgate.ratelimit.regulation import MemoryRegulator, Regulator
from authgate.ratelimit.shedding import UpstreamGates

# A limit check must never hold a request long: a Redis that does not answer within
# this is "unavailable", and the route's on_store_error decides.
LIMIT_TIMEOUT = 0.5


@dataclass(frozen=True)
class Guards:
    limiter: RateLimiter
    regulator: Regulator | None
    gates: UpstreamGates


def build_guards(config: GatewayConfig) -> Guards:
    limits = config.limits
    gates = UpstreamGates(limits.max_inflight_per_upstream)
    regulator: Regulator | None = None
    if config.store.backend == "memory":
        if limits.regulation is not None:
            regulator = MemoryRegulator(limits.regulation)
        return Guards(MemoryRateLimiter(), regulator, gates)
    # Imported here so a memory-only gateway never loads the Redis client.
    from authgate.ratelimit.redis_limiter import RedisRateLimiter
    from authgate.ratelimit.redis_regulation import RedisRegulator
    from authgate.sessions.redis_client import redis_client

    client = redis_client(config.store, timeout=LIMIT_TIMEOUT)
    prefix = config.store.key_prefix
    limiter = RedisRateLimiter(client, prefix, owns_client=True)
    if limits.regulation is not None:
        regulator = RedisRegulator(client, prefix, limits.regulation)
    return Guards(limiter, regulator, gates)


async def close_guards(guards: Guards) -> None:
    if guards.regulator is not None:
        await guards.regulator.close()
    await guards.limiter.close()
