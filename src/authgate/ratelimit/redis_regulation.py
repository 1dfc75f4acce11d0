"""Redis regulator: failure counts and bans shared by every replica.

Contract: the `Regulator` contract (see `regulation.py`) over the same clients as
`redis_limiter` (one Redis, Sentinel, or Cluster). Every redis-py error is raised
as `LimiterUnavailable`.

Key layout (`P` the prefix, `C` the client's `regulation.regulated_key`):

    P reg:{C}:f     list: the last max_failures failure times, newest first; PX find_time
    P reg:{C}:b     string: when the ban ends (`%.17g` seconds); PX ban_time

Both keys carry the same hash tag, so the one script that touches both runs on
Redis Cluster. Like the session store, expiry is decided from the stored times and
the caller's clock (which the contract suite advances); the TTLs only reclaim memory.
"""

from __future__ import annotations

import time

from authgate.config.schema_limits import RegulationConfig
from authgate.ratelimit.limiter import Clock
from authgate.ratelimit.redis_limiter import Client, backend_errors, limiter_client
from authgate.ratelimit.regulation import regulated_key

# KEYS[1] failure times, KEYS[2] ban end. ARGV: now, max_failures, find_time, ban_time.
# Answers 1 when this failure starts a ban.
_RECORD = """
local now, max_failures = tonumber(ARGV[1]), tonumber(ARGV[2])
local find_time, ban_time = tonumber(ARGV[3]), tonumber(ARGV[4])
local ban_end = tonumber(redis.call('GET', KEYS[2]) or '')
if ban_end and ban_end > now then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, max_failures - 1)
local oldest = tonumber(redis.call('LINDEX', KEYS[1], max_failures - 1) or '')
if oldest and now - oldest < find_time then
  redis.call('DEL', KEYS[1])
  local ends = string.format('%.17g', now + ban_time)
  redis.call('SET', KEYS[2], ends, 'PX', math.max(1, math.ceil(ban_time * 1000)))
  return 1
end
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(find_time * 1000)))
return 0
"""


class RedisRegulator:
    def __init__(
        self,
        client: Client,
        prefix: str,
        config: RegulationConfig,
        *,
        clock: Clock = time.time,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}reg:"
        self._config = config
        self._clock = clock
        self._owns_client = owns_client
        self._record = client.register_script(_RECORD)

    @classmethod
    def from_url(
        cls,
        url: str,
        prefix: str,
        config: RegulationConfig,
        *,
        clock: Clock = time.time,
        timeout: float = 0.5,
    ) -> RedisRegulator:
        """A regulator with its own client and pool, closed by `close()`. No I/O here."""
        client = limiter_client(url, timeout)
        return cls(client, prefix, config, clock=clock, owns_client=True)

    def _keys(self, kind: str, value: str) -> list[str]:
        tagged = f"{self._prefix}{{{regulated_key(kind, value)}}}"
        return [f"{tagged}:f", f"{tagged}:b"]

    async def record_failure(self, kind: str, value: str) -> bool:
        config = self._config
        args: list[str | int] = [repr(self._clock()), config.max_failures, repr(config.find_time),
                repr(config.ban_time)]  # fmt: skip
        with backend_errors():
            banned = await self._record(keys=self._keys(kind, value), args=args)
        return bool(banned)

    async def is_banned(self, kind: str, value: str) -> float | None:
        with backend_errors():
            ends = await self._client.get(self._keys(kind, value)[1])
        left = float(ends) - self._clock() if ends else 0.0
        return left if left > 0 else None

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
