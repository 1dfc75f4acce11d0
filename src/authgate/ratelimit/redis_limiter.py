"""Redis rate limiter: atomic checks shared by every replica, one script call per tick.

Contract: the `RateLimiter` contract (see `limiter.py`) over one Redis, a
Sentinel-managed master or a Redis Cluster (redis-py's asyncio clients: pass the
gateway's shared client, or let `from_url` build one). Every redis-py error is
raised as `LimiterUnavailable`; the client reconnects by itself and the script is
loaded again after a restart (EVALSHA, then SCRIPT LOAD on NOSCRIPT: redis-py's
`Script`), so a limiter outlives a Redis restart. The checks submitted in one
event-loop tick go to Redis as one script call (per hash slot on a Cluster), run one
after another inside it: `redis_batch.py` says why and why that stays exact.

Key layout (`P` is the configured prefix, `K` the logical key from `keys.py`):

    P rl:{K}        string: the key's TAT (`%.17g` seconds); PX until the TAT + 1 s

The whole logical key is the hash tag; a batch holds keys of one hash slot only on
a Cluster, so the script runs unchanged there. The Lua script is `gcra.gcra_check` line for
line: it reads the TAT, decides, and writes the new TAT only when the request
passes (refusals cost nothing; a read-only check, cost 0, writes nothing). It
answers the stored TAT and the `now` it used, and the result's numbers are computed
here by the same pure function, so memory and Redis answers are identical.

The TTL only reclaims memory: a passed TAT means the same as no key. Its second of
grace keeps a bucket whose TAT still lies ahead on the caller's clock from
vanishing while that clock stalls (a test's fake clock, a paused process).

Which clock: by default `now` is the caller's clock, sent as an argument. That lets
the contract suite advance a fake clock instead of sleeping, and replicas run on
NTP-synchronized wall clocks anyway: a skew of s seconds can let a key gain about
s * rate requests when its traffic moves from the slower replica to the faster.
`server_time=True` reads Redis's own `TIME` inside the script instead, for
deployments that cannot trust their clocks; the injected clock is then unused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from authgate.ratelimit.gcra import EPSILON, GcraResult, Limit, check_cost, gcra_check
from authgate.ratelimit.limiter import Clock, LimiterUnavailable
from authgate.ratelimit.redis_batch import CheckBatcher
from authgate.sessions.redis_client import redis_errors_as

log = logging.getLogger(__name__)

Client = Redis | RedisCluster

# A batch of checks, run one after another inside one atomic script (redis_batch.py).
# KEYS[i] the i-th check's TAT key. ARGV: epsilon, then per check four values: now
# ('' = the server's TIME), T, burst*T, cost. Answers, per check, allowed 0|1 and the
# stored TAT or '', then the `now` it used (%.17g text: Lua's tostring keeps 14
# digits, and Redis truncates a Lua number reply to an integer).
_GCRA = """
local epsilon = tonumber(ARGV[1])
local server_now = nil
local out = {}
for i = 1, #KEYS do
  local a = 2 + (i - 1) * 4
  local now = tonumber(ARGV[a])
  if not now then
    if not server_now then
      local t = redis.call('TIME')
      server_now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    end
    now = server_now
  end
  local interval, window = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local cost = tonumber(ARGV[a + 3])
  local stored = redis.call('GET', KEYS[i])
  local base = now
  if stored then base = math.max(tonumber(stored), now) end
  local new_tat = base + interval * cost
  local allowed = 0
  if now - (new_tat - window) >= -epsilon then
    allowed = 1
    if cost > 0 then
      local ttl = math.ceil((new_tat - now) * 1000) + 1000
      redis.call('SET', KEYS[i], string.format('%.17g', new_tat), 'PX', ttl)
    end
  end
  out[#out + 1] = allowed
  out[#out + 1] = stored or ''
  out[#out + 1] = string.format('%.17g', now)
end
return out
"""


class _Check(NamedTuple):
    store_key: str
    args: tuple[str, str, str, int]  # now ('' = server time), T, burst*T, cost


def backend_errors() -> AbstractContextManager[None]:
    """Raise every Redis failure as `LimiterUnavailable` (callers apply on_store_error)."""
    return redis_errors_as(LimiterUnavailable)


def limiter_client(url: str, timeout: float) -> Redis:
    """A client that fails fast: a check sits on every request's path."""
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # A couple of quick retries ride over a dropped connection; an outage must
        # surface within a request's patience, not after seconds of backoff.
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.005), retries=2),
        health_check_interval=30,
    )


class RedisRateLimiter:
    def __init__(
        self,
        client: Client,
        prefix: str,
        *,
        clock: Clock = time.time,
        server_time: bool = False,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}rl:"
        self._clock = clock
        self._server_time = server_time
        self._owns_client = owns_client
        self._gcra = client.register_script(_GCRA)
        slot_of = None
        if isinstance(client, RedisCluster):
            # One script may touch one hash slot only: a batch per slot.
            cluster = client
            slot_of = lambda check: cluster.keyslot(check.store_key)  # noqa: E731
        self._batcher: CheckBatcher[_Check] = CheckBatcher(self._send, slot_of)
        # redis-py 8.1's asyncio cluster client, first used by several tasks at once
        # (one batch per slot), can hand one task a connection another is still
        # making: AttributeError on a None writer (seen in tests/ratelimit/
        # test_cluster.py). Its slot map is loaded once, before the first batch.
        self._initialized = not isinstance(client, RedisCluster)
        self._initializing = asyncio.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        prefix: str,
        *,
        clock: Clock = time.time,
        server_time: bool = False,
        timeout: float = 0.5,
    ) -> RedisRateLimiter:
        """A limiter with its own client and pool, closed by `close()`. No I/O here."""
        client = limiter_client(url, timeout)
        return cls(client, prefix, clock=clock, server_time=server_time, owns_client=True)

    def store_key(self, key: str) -> str:
        """The Redis key holding `key`'s TAT."""
        return f"{self._prefix}{{{key}}}"

    async def check(self, key: str, limit: Limit, cost: int = 1) -> GcraResult:
        check_cost(cost, limit)  # before the script: a negative cost would refund
        now = "" if self._server_time else repr(self._clock())
        args = (now, repr(limit.emission_interval), repr(limit.window), cost)
        reply = await self._batcher.submit(_Check(self.store_key(key), args))
        return self._result(reply, limit, cost)

    async def _send(self, checks: list[_Check]) -> list[tuple[Any, Any, Any]]:
        """One script call for `checks` (one hash slot); a reply triple per check."""
        if not self._initialized:
            await self._initialize()
        args: list[str | int] = [repr(EPSILON)]
        for check in checks:
            args.extend(check.args)
        with backend_errors():
            flat = await self._gcra(keys=[check.store_key for check in checks], args=args)
        return [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]

    async def _initialize(self) -> None:
        async with self._initializing:
            if not self._initialized:
                assert isinstance(self._client, RedisCluster)
                with backend_errors():
                    await self._client.initialize()
                self._initialized = True

    def _result(self, reply: tuple[Any, Any, Any], limit: Limit, cost: int) -> GcraResult:
        allowed, stored, now = reply
        result = gcra_check(float(stored) if stored else None, float(now), limit, cost)
        if result.allowed != bool(allowed):
            # Cannot happen while the script mirrors gcra_check; if it ever does,
            # the script's verdict is what the store now holds, so it wins.
            log.error("rate limit script and gcra_check disagree on %r", reply)
            result = result._replace(allowed=bool(allowed))
        return result

    async def close(self) -> None:
        await self._batcher.close()
        if self._owns_client:
            await self._client.aclose()
