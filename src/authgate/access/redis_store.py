"""The Redis grant store, shared by every replica (`authgate.access.store` contract).

Key layout (`P` is the configured prefix; every key carries the one hash tag
`{grants}`, so on a Redis Cluster they share a slot and the write script may touch
several of them — grants are few, written rarely, read through the per-process
cache, so one slot carries them easily):

    P{grants}:g:<id>                    string: the grant's JSON; TTL its end + retention
    P{grants}:s:<provider>:<subject>    set of ids: the subject's open grants
    P{grants}:pending                   zset id -> requested_at: grants in state requested
    P{grants}:active                    zset id -> expires_at: the sweeper's queue
    P{grants}:recent                    zset id -> requested_at: `authgate grants`

Every write is one Lua script (`_WRITE`): compare the stored state with the expected
ones, write the grant and move it between the index keys, all at once — so two
approvers racing, or an approval racing a revocation, end with one winner and
consistent indexes (a dropped connection cannot leave a half-moved grant).
A provider id cannot contain `:` (config schema): subject keys cannot collide.
"""

from __future__ import annotations

import math
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from authgate.access.model import Grant, GrantState
from authgate.access.store import Clock
from authgate.config.schema_access import LONGEST_GRANT
from authgate.sessions.redis_client import decodes_responses, redis_errors_as, url_client
from authgate.sessions.store import StoreUnavailable

# KEYS: grant, subject set, pending, active, recent.
# ARGV: json, state, expected states ("" = create), expires_at, id, requested_at,
#       ttl ms when ended, ttl ms while open, the recent index's horizon.
_WRITE = """
local cur = redis.call('GET', KEYS[1])
if ARGV[3] == '' then
  if cur then return -1 end
else
  if not cur then return 0 end
  local stored = cjson.decode(cur)['state']
  local ok = false
  for s in string.gmatch(ARGV[3], '[^,]+') do
    if s == stored then ok = true end
  end
  if not ok then return 0 end
end
local state, id = ARGV[2], ARGV[5]
redis.call('ZADD', KEYS[5], ARGV[6], id)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[9])
if state == 'requested' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[8])
  redis.call('ZADD', KEYS[3], ARGV[6], id)
  redis.call('SADD', KEYS[2], id)
elseif state == 'active' or state == 'approved' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[8])
  redis.call('ZREM', KEYS[3], id)
  redis.call('SADD', KEYS[2], id)
  redis.call('ZADD', KEYS[4], ARGV[4], id)
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[7])
  redis.call('ZREM', KEYS[3], id)
  redis.call('SREM', KEYS[2], id)
  redis.call('ZREM', KEYS[4], id)
end
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisGrantStore:
    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        prefix: str,
        retention: float,
        request_timeout: float,
        clock: Clock = time.time,
        owns_client: bool = False,
    ) -> None:
        if decodes_responses(client):
            raise ValueError("the Redis client must use decode_responses=False")
        self._client = client
        self._base = f"{prefix}{{grants}}:"
        self._retention = retention
        self._request_timeout = request_timeout
        self._clock = clock
        self._owns_client = owns_client
        self._write = client.register_script(_WRITE)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str, retention: float, request_timeout: float, clock: Clock = time.time
    ) -> RedisGrantStore:
        """A store with its own client, closed by `close()`. No I/O here."""
        return cls(
            url_client(url), prefix=prefix, retention=retention,
            request_timeout=request_timeout, clock=clock, owns_client=True,
        )  # fmt: skip

    def _grant_key(self, grant_id: str) -> str:
        return f"{self._base}g:{grant_id}"

    def _keys(self, grant: Grant) -> list[str]:
        return [
            self._grant_key(grant.id),
            f"{self._base}s:{grant.provider}:{grant.subject}",
            f"{self._base}pending",
            f"{self._base}active",
            f"{self._base}recent",
        ]

    async def _store(self, grant: Grant, expected: str) -> int:
        now = self._clock()
        if grant.state is GrantState.REQUESTED:
            open_for = grant.requested_at + self._request_timeout - now
        else:
            open_for = (grant.expires_at or now) - now
        args = [
            grant.encode(), grant.state.value, expected, repr(grant.expires_at or 0.0), grant.id,
            repr(grant.requested_at), _ms(self._retention), _ms(max(open_for, 0) + self._retention),
            repr(now - self._retention - self._request_timeout - LONGEST_GRANT),
        ]  # fmt: skip
        with redis_errors_as(StoreUnavailable):
            return int(await self._write(keys=self._keys(grant), args=args))

    async def create(self, grant: Grant) -> None:
        if await self._store(grant, "") == -1:
            raise ValueError(f"grant {grant.id} exists")

    async def get(self, grant_id: str) -> Grant | None:
        with redis_errors_as(StoreUnavailable):
            data = await self._client.get(self._grant_key(grant_id))
        return _decoded(data)

    async def replace(self, grant: Grant, expected: frozenset[GrantState]) -> bool:
        if not expected:
            return False
        return await self._store(grant, ",".join(sorted(s.value for s in expected))) == 1

    async def of_subject(self, provider: str, subject: str) -> list[Grant]:
        with redis_errors_as(StoreUnavailable):
            ids = await self._client.smembers(f"{self._base}s:{provider}:{subject}")
        return await self._many(ids)

    async def pending(self) -> list[Grant]:
        with redis_errors_as(StoreUnavailable):
            ids = await self._client.zrange(f"{self._base}pending", 0, -1)
        found = await self._many(ids)
        return [g for g in found if g.state is GrantState.REQUESTED]

    async def recent(self, limit: int = 200) -> list[Grant]:
        with redis_errors_as(StoreUnavailable):
            ids = await self._client.zrevrange(f"{self._base}recent", 0, max(limit, 1) - 1)
        return await self._many(ids)

    async def due(self, now: float) -> list[Grant]:
        with redis_errors_as(StoreUnavailable):
            # Both indexes are scored by time: the sweeper's tick reads only what is due.
            ended = await self._client.zrangebyscore(f"{self._base}active", "-inf", repr(now))
            horizon = repr(now - self._request_timeout)
            asked = await self._client.zrangebyscore(f"{self._base}pending", "-inf", horizon)
        lapsed = [g for g in await self._many(asked) if g.state is GrantState.REQUESTED]
        active = [g for g in await self._many(ended) if g.state is GrantState.ACTIVE]
        return active + lapsed

    async def _many(self, ids: Any) -> list[Grant]:
        """The grants of `ids` (a reply: bytes members), in the reply's order
        (sets: sorted, so listings are stable); ids whose key is gone are skipped."""
        names = [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
        if isinstance(ids, set):
            names.sort()
        if not names:
            return []
        keys = [self._grant_key(name) for name in names]
        with redis_errors_as(StoreUnavailable):
            values = await self._client.mget(keys)
        return [g for g in map(_decoded, values) if g is not None]

    def configure(self, *, retention: float, request_timeout: float) -> None:
        self._retention = retention
        self._request_timeout = request_timeout

    async def ping(self) -> None:
        with redis_errors_as(StoreUnavailable):
            await self._client.ping()

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _decoded(data: bytes | str | None) -> Grant | None:
    if data is None:
        return None
    try:
        return Grant.decode(data)
    except ValueError:
        return None  # unreadable (a newer writer's shape): not a grant that holds
