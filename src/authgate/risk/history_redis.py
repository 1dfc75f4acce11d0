"""The Redis history store, shared by every gateway replica and worker.

Contract: the `HistoryStore` contract (see `history.py`) over one Redis (redis-py's
asyncio client, `decode_responses=False`). Every redis-py error is raised as
`StoreUnavailable`.

Key layout (`P` is the configured prefix, `h` the first 32 hex digits of the SHA-256
of the user key or failed-login key — no e-mail, subject or IP in key names):

    P risk:u:{h}    hash: one user's history (`history_codec`), TTL = history ttl
    P risk:f:{h}    hash: `n`, `since` — failed logins of a user or IP, TTL = window

The hash tag `{h}` gives a user's two keys one Redis Cluster slot. Each write is one
Lua script on one key: the fields are set, the map pruned (the same rules as
`history_codec.prune`) and the TTL pushed in one step. Validity is decided from the
stored times and the caller's `now`; TTLs only reclaim memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from authgate.config.schema_adaptive import RiskHistoryConfig
from authgate.risk.history import ip_key
from authgate.risk.history_codec import (
    ACK,
    Limits,
    allowed_fields,
    encode_ack,
    failed_count,
    history_from_fields,
    number,
    session_hash,
)
from authgate.risk.model import History, Location
from authgate.risk.signal import Signal
from authgate.sessions.redis_client import (
    decodes_responses,
    redis_errors_as,
    url_client,
)
from authgate.sessions.store import StoreUnavailable

# KEYS[1] user hash. ARGV: now, ttl (s), ttl (ms), max devices, max countries, max acks,
# then field, value, ... to set. Mirrors history_codec.prune: drop what is past the TTL
# (last-seen times) or its end (acks), then the least recent over each cap.
_WRITE = """
local key, now = KEYS[1], tonumber(ARGV[1])
local oldest = now - tonumber(ARGV[2])
if #ARGV > 6 then redis.call('HSET', key, unpack(ARGV, 7)) end
local groups = {['d:'] = {}, ['c:'] = {}, ['a:'] = {}}
local caps = {['d:'] = tonumber(ARGV[4]), ['c:'] = tonumber(ARGV[5]), ['a:'] = tonumber(ARGV[6])}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local name, value = all[i], all[i + 1]
  local prefix = string.sub(name, 1, 2)
  local group = groups[prefix]
  if group then
    local when = tonumber(string.match(value, '^[^|]*'))
    if when and (when ~= when or when == math.huge or when == -math.huge) then
      when = nil  -- "nan" / "inf" parse in Lua; Python reads them as unknown
    end
    local expired = (not when) or (prefix == 'a:' and when <= now)
                    or (prefix ~= 'a:' and when < oldest)
    if expired then redis.call('HDEL', key, name) else table.insert(group, {when, name}) end
  end
end
for prefix, group in pairs(groups) do
  local extra = #group - caps[prefix]
  if extra > 0 then
    table.sort(group, function(x, y)
      if x[1] == y[1] then return x[2] < y[2] end
      return x[1] < y[1]
    end)
    for i = 1, extra do redis.call('HDEL', key, group[i][2]) end
  end
end
redis.call('PEXPIRE', key, ARGV[3])
"""
# KEYS[1] failure hash. ARGV: now, window (s), window (ms). A window starts at the
# first failure after the previous one ended; answers the count in the window.
_FAIL = """
local row = redis.call('HMGET', KEYS[1], 'n', 'since')
local n, since, now = tonumber(row[1]), tonumber(row[2]), tonumber(ARGV[1])
if not n or not since or now - since >= tonumber(ARGV[2]) then
  n = 0
  redis.call('HSET', KEYS[1], 'since', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
n = n + 1
redis.call('HSET', KEYS[1], 'n', n)
return n
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)






class RedisHistoryStore:
    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        prefix: str,
        ttl: float,
        max_devices: int = 20,
        max_countries: int = 20,
        failed_login_window: float = 900.0,
        owns_client: bool = False,
    ) -> None:
        if decodes_responses(client):
            raise ValueError("the Redis client must use decode_responses=False")
        self._client = client
        self._prefix = prefix
        self._limits = Limits(ttl, max_devices, max_countries)
        self._window = failed_login_window
        self._owns_client = owns_client
        self._write_script = client.register_script(_WRITE)
        self._fail_script = client.register_script(_FAIL)

    @classmethod
    def from_client(
        cls, client: Redis | RedisCluster, config: RiskHistoryConfig, *, prefix: str
    ) -> RedisHistoryStore:
        """A store that owns `client` (closed by `close()`). No I/O here."""
        return cls(
            client, prefix=prefix, ttl=config.ttl, max_devices=config.max_devices,
            max_countries=config.max_countries,
            failed_login_window=config.failed_login_window, owns_client=True,
        )  # fmt: skip

    @classmethod
    def from_url(
        cls, url: str, config: RiskHistoryConfig, *, prefix: str, timeout: float = 2.0
    ) -> RedisHistoryStore:
        """A store with its own single-node client (`redis_client.url_client`)."""
        return cls.from_client(url_client(url, timeout=timeout), config, prefix=prefix)

    def _user(self, user_key: str) -> str:
        return f"{self._prefix}risk:u:{{{_hashed(user_key)}}}"

    def _failures(self, key: str) -> str:
        return f"{self._prefix}risk:f:{{{_hashed(key)}}}"

    async def get(
        self,
        user_key: str,
        now: float,
        *,
        session_id: str | None = None,
        client_ip: str | None = None,
    ) -> History:
        failure_keys = [user_key] + ([ip_key(client_ip)] if client_ip is not None else [])
        with redis_errors_as(StoreUnavailable):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self._user(user_key))
                for key in failure_keys:
                    pipe.hmget(self._failures(key), ["n", "since"])
                raw, *rows = await pipe.execute()
        fields = {_text(k): _text(v) for k, v in raw.items()}
        session = session_hash(session_id) if session_id else None
        history = history_from_fields(fields, now, self._limits.ttl, session)
        failures = max(self._count(row, now) for row in rows)
        return dataclasses.replace(history, failed_logins=failures)

    def _count(self, row: list[Any], now: float) -> int:
        count, since = (number(_text(v)) if v is not None else None for v in row)
        return failed_count(count, since, now, self._window)

    async def record_allowed(
        self, user_key: str, location: Location | None, device_id: str | None, now: float
    ) -> None:
        await self._write(user_key, allowed_fields(location, device_id, now), now)

    async def acknowledge(
        self, user_key: str, session_id: str, signals: Iterable[Signal], now: float, until: float
    ) -> None:
        ack = {ACK + session_hash(session_id): encode_ack(signals, until)}
        await self._write(user_key, ack, now)

    async def _write(self, user_key: str, changes: dict[str, str], now: float) -> None:
        limits = self._limits
        args: list[str | int | float] = [
            repr(now), repr(limits.ttl), _ms(limits.ttl),
            limits.max_devices, limits.max_countries, limits.max_acknowledgements,
        ]  # fmt: skip
        args += [item for pair in changes.items() for item in pair]
        with redis_errors_as(StoreUnavailable):
            await self._write_script(keys=[self._user(user_key)], args=args)

    async def record_failed_login(self, key: str, now: float) -> int:
        args: list[str | int] = [repr(now), repr(self._window), _ms(self._window)]
        with redis_errors_as(StoreUnavailable):
            count = await self._fail_script(keys=[self._failures(key)], args=args)
        return int(count)

    async def failed_logins(self, key: str, now: float) -> int:
        with redis_errors_as(StoreUnavailable):
            row = await self._client.hmget(self._failures(key), ["n", "since"])
        return self._count(row, now)

    async def ping(self) -> None:
        with redis_errors_as(StoreUnavailable):
            await self._client.ping()

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
