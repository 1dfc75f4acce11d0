"""Redis session store, shared by every gateway replica and worker.

Contract: the `SessionStore` contract (see `store.py`) over Redis — one server, a
Sentinel-managed master or a Redis Cluster (redis-py's asyncio clients, built by
`redis_client.py`, `decode_responses=False`: every value is bytes, decoded here).
Every redis-py error is raised as `StoreUnavailable`; the client reconnects by
itself, so a store outlives a Redis restart or a failover.

Key layout (`P` is the configured prefix):

    P s:{<storage key>}           hash: one session (`model.to_record`), TTL = its end
    P sid:<provider>:<sid>        set of storage keys: sessions of a provider `sid`
    P sub:<provider>:<sub>        set of storage keys: sessions of a provider `sub`
    P email:<provider>:<email>    set of storage keys: sessions of an email (lowercased)
    P login:<state>               string: one login in progress, TTL = login timeout
    P once:<key>                  string: a key seen once (logout-token `jti`)
    P lock:<name>                 string: a lock holder's random token, TTL = lock ttl

The session hash is keyed by SHA-256 of the session id (`keys.storage_key`), never the
id. Its hash tag `{...}` pins a session's slot in Redis Cluster, so per-session keys
added later can share it. An index set and the sessions it lists live in different
slots, and must: one subject's sessions are spread over many slots. No command here
touches two keys at once — each command and each Lua script names one key (its
KEYS[1]; the scripts touch nothing else), at most pipelined without MULTI, which
redis-py splits by slot — so the layout is valid on a cluster as it is. The cluster
client loads a script on every master (SCRIPT LOAD) and sends EVALSHA to the slot's
master; a master that lacks it (a promoted replica) answers NOSCRIPT and redis-py
loads it there. A provider id cannot contain `:` (config schema), and the key
prefix cannot contain braces, so index keys cannot collide and no key is pinned to
another's slot.

Expiry is decided from the stored times and the caller's clock; the Redis TTL, set to
the session's end and pushed on touch, only reclaims memory. Index sets get a TTL of
at least `max_lifetime`, which outlives every session listed in them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from authgate.sessions.cipher import TokenCipher, TokenDecryptError
from authgate.sessions.keys import storage_key
from authgate.sessions.model import (
    RecordError,
    Session,
    Tokens,
    encrypt_tokens,
    from_record,
    identity_from_json,
    identity_to_json,
    to_record,
)
from authgate.sessions.redis_client import (
    decodes_responses,
    redis_errors_as,
    url_client,
)
from authgate.sessions.store import (
    TOUCH_INTERVAL,
    Clock,
    IdentityChange,
    LockTimeout,
    SessionIndex,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

# Write the hash and its TTL in one step, so a dropped connection cannot leave a
# session without a TTL.  KEYS[1] session; ARGV[1] ttl ms, then field, value, ...
_CREATE = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
"""
# Slide the idle end unless the session has ended or was seen within the interval;
# never creates a hash.  ARGV: now (also stored as text), idle timeout, interval.
_TOUCH = """
local row = redis.call('HMGET', KEYS[1], 'seen', 'expires')
local seen, expires = tonumber(row[1]), tonumber(row[2])
local now, idle = tonumber(ARGV[1]), tonumber(ARGV[2])
if not seen or not expires or now >= expires or now >= seen + idle
   or now - seen < tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((math.min(expires, now + idle) - now) * 1000)))
return 1
"""
# Replace the tokens of a session that exists; never creates a hash.
_REPLACE_TOKENS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'tokens', ARGV[1])
return 1
"""
# A re-verified session's identity, tokens and verification time; never creates.
_REPLACE_IDENTITY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'identity', ARGV[1], 'tokens', ARGV[2], 'verified', ARGV[3])
return 1
"""
# Replace only the identity of a session that exists (an assurance downgrade);
# never creates a hash.
_SET_IDENTITY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'identity', ARGV[1])
return 1
"""
# Release a lock only if we still hold it: after our TTL ran out, someone else may.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_HEAD = ("identity", "psid", "seen", "expires")  # what ending a session reads
_RECENT_MAX = 10_000


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _text(value: bytes | str | None) -> str | None:
    # bytes always (decode_responses=False); the str arm only satisfies the typing.
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value






class RedisSessionStore:
    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        cipher: TokenCipher,
        prefix: str,
        idle_timeout: float,
        max_lifetime: float,
        clock: Clock = time.time,
        touch_interval: float = TOUCH_INTERVAL,
        owns_client: bool = False,
    ) -> None:
        if decodes_responses(client):
            raise ValueError("the Redis client must use decode_responses=False")
        self._client = client
        self._cipher = cipher
        self._prefix = prefix
        self._idle = idle_timeout
        self._max_lifetime = max_lifetime
        self._clock = clock
        self._touch_interval = touch_interval
        self._owns_client = owns_client
        # last_seen as read by `get`, so the `touch` that follows in the same request
        # skips its round trip when no write is due (the common case).
        self._recent: dict[str, float] = {}
        self._touch = client.register_script(_TOUCH)
        self._replace_tokens = client.register_script(_REPLACE_TOKENS)
        self._replace_identity = client.register_script(_REPLACE_IDENTITY)
        self._set_identity = client.register_script(_SET_IDENTITY)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        cipher: TokenCipher,
        prefix: str,
        idle_timeout: float,
        max_lifetime: float,
        clock: Clock = time.time,
        timeout: float = 2.0,
    ) -> RedisSessionStore:
        """A store with its own client and pool, closed by `close()`. No I/O here."""
        client = url_client(url, timeout=timeout)
        return cls(
            client, cipher=cipher, prefix=prefix, idle_timeout=idle_timeout,
            max_lifetime=max_lifetime, clock=clock, owns_client=True,
        )  # fmt: skip

    # -- keys -----------------------------------------------------------------

    def _session_key(self, skey: str) -> str:
        return f"{self._prefix}s:{{{skey}}}"

    def _index_key(self, kind: str, provider: str, value: str) -> str:
        return f"{self._prefix}{kind}:{provider}:{value}"

    def _index_keys(
        self, provider: str, subject: str, provider_sid: str | None, email: str | None
    ) -> list[str]:
        keys = [self._index_key("sub", provider, subject)]
        if provider_sid is not None:
            keys.append(self._index_key("sid", provider, provider_sid))
        if email:
            keys.append(self._index_key("email", provider, email.lower()))
        return keys

    def _listed_in(self, head: list[str | None], index: str | None) -> set[str]:
        """The index sets a stored session is listed in (from its head), and `index`."""
        listed = {index} if index else set()
        try:
            identity = identity_from_json(head[0] or "", "")
        except (ValueError, TypeError, AttributeError):
            return listed  # unreadable: its index entries go with their TTL
        indexes = self._index_keys(identity.provider, identity.subject, head[1], identity.email)
        return listed | set(indexes)

    # -- sessions -------------------------------------------------------------

    async def create(self, session: Session) -> None:
        skey, now, identity = storage_key(session.id), self._clock(), session.identity
        record = to_record(session, self._cipher, skey)
        fields = [item for pair in record.items() for item in pair]
        ttl = _ms(session.ends_at(self._idle) - now)
        # Every session listed in an index ends within max_lifetime of its creation,
        # so this TTL outlives all of them (and a longer-lived one, after a config change).
        index_ttl = _ms(max(self._max_lifetime, session.expires_at - now))
        indexes = self._index_keys(
            identity.provider, identity.subject, session.provider_sid, identity.email
        )
        with redis_errors_as(StoreUnavailable):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.eval(_CREATE, 1, self._session_key(skey), ttl, *fields)
                for index in indexes:
                    pipe.sadd(index, skey)
                    pipe.pexpire(index, index_ttl)
                await pipe.execute()

    async def get(self, session_id: str, now: float) -> Session | None:
        skey = storage_key(session_id)
        with redis_errors_as(StoreUnavailable):
            raw = await self._client.hgetall(self._session_key(skey))
        if not raw:
            return None
        session = await self._decode(session_id, skey, raw)
        if session is not None and session.expired(now, self._idle):
            await self._end([skey], now)
            return None
        if session is not None:
            self._remember_seen(skey, session.last_seen)
        return session

    async def _decode(self, session_id: str, skey: str, raw: dict[Any, Any]) -> Session | None:
        record = {str(_text(k)): str(_text(v)) for k, v in raw.items()}
        try:
            return from_record(session_id, record, self._cipher, skey)
        except TokenDecryptError:
            # Not deleted: during a rolling key rotation another replica may already
            # write with a secret this one does not list yet.
            log.warning("session tokens do not open with the configured secrets")
        except RecordError as error:
            log.warning("unreadable session record dropped: %s", error)
            await self._end([skey], self._clock())
        return None

    def _remember_seen(self, skey: str, last_seen: float) -> None:
        if len(self._recent) >= _RECENT_MAX:
            self._recent.clear()  # gets without a touch: bounded, never a leak
        self._recent[skey] = last_seen

    async def touch(self, session_id: str, now: float) -> None:
        skey = storage_key(session_id)
        seen = self._recent.pop(skey, None)
        if seen is not None and now - seen < self._touch_interval:
            return
        with redis_errors_as(StoreUnavailable):
            await self._touch(
                keys=[self._session_key(skey)], args=[repr(now), self._idle, self._touch_interval]
            )

    async def replace_tokens(self, session_id: str, tokens: Tokens) -> None:
        skey = storage_key(session_id)
        blob = encrypt_tokens(tokens, self._cipher, skey)
        with redis_errors_as(StoreUnavailable):
            await self._replace_tokens(keys=[self._session_key(skey)], args=[blob])

    async def replace_identity(self, session: Session) -> None:
        skey = storage_key(session.id)
        args = [
            identity_to_json(session.identity),
            encrypt_tokens(session.tokens, self._cipher, skey),
            repr(session.verified_at),
        ]
        with redis_errors_as(StoreUnavailable):
            await self._replace_identity(keys=[self._session_key(skey)], args=args)

    async def delete(self, session_id: str) -> None:
        await self._end([storage_key(session_id)], self._clock())

    async def delete_by_provider_sid(self, provider: str, sid: str) -> int:
        return await self._end_indexed(self._index_key("sid", provider, sid))

    async def delete_by_subject(self, provider: str, subject: str) -> int:
        return await self._end_indexed(self._index_key("sub", provider, subject))

    async def delete_by_email(self, provider: str, email: str) -> int:
        return await self._end_indexed(self._index_key("email", provider, email.lower()))

    async def change_identities(
        self, provider: str, index: SessionIndex, value: str, change: IdentityChange
    ) -> int:
        key = self._index_key(index, provider, value.lower() if index == "email" else value)
        now = self._clock()
        with redis_errors_as(StoreUnavailable):
            members = sorted(str(_text(m)) for m in await self._client.smembers(key))
            heads = await self._heads(members)
            changed = 0
            for skey, head in zip(members, heads, strict=True):
                if head[0] is None or not self._live(head, now):
                    continue
                try:
                    identity = identity_from_json(head[0], "")
                except (ValueError, TypeError, AttributeError):
                    continue  # unreadable: `get` drops it
                new = change(identity)
                if new is identity:
                    changed += 1  # matched; nothing to write
                    continue
                text = identity_to_json(new)
                changed += await self._set_identity(keys=[self._session_key(skey)], args=[text])
        return changed

    async def _end_indexed(self, index: str) -> int:
        with redis_errors_as(StoreUnavailable):
            members = await self._client.smembers(index)
        return await self._end(sorted(str(_text(m)) for m in members), self._clock(), index)

    async def _end(self, skeys: Sequence[str], now: float, index: str | None = None) -> int:
        """Delete these sessions and their index entries; count those still live."""
        if not skeys:
            return 0
        for skey in skeys:
            self._recent.pop(skey, None)
        with redis_errors_as(StoreUnavailable):
            heads = await self._heads(skeys)
            async with self._client.pipeline(transaction=False) as pipe:
                for skey in skeys:  # DELs first: their results are counted below
                    pipe.delete(self._session_key(skey))
                for skey, head in zip(skeys, heads, strict=True):
                    for key in self._listed_in(head, index):
                        pipe.srem(key, skey)
                deleted = (await pipe.execute())[: len(skeys)]
        return sum(1 for n, head in zip(deleted, heads, strict=True) if n and self._live(head, now))

    async def _heads(self, skeys: Sequence[str]) -> list[list[str | None]]:
        async with self._client.pipeline(transaction=False) as pipe:
            for skey in skeys:
                pipe.hmget(self._session_key(skey), list(_HEAD))
            rows = await pipe.execute()
        return [[_text(v) for v in row] for row in rows]

    def _live(self, head: list[str | None], now: float) -> bool:
        """Whether a stored session had not yet ended by itself at `now`."""
        try:
            seen, expires = float(head[2] or ""), float(head[3] or "")
        except ValueError:
            return False
        return now < expires and now < seen + self._idle

    # -- login state, one-time keys, locks ---------------------------------------

    async def put_login_state(self, key: str, data: bytes, ttl: float) -> None:
        with redis_errors_as(StoreUnavailable):
            await self._client.set(f"{self._prefix}login:{key}", data, px=_ms(ttl))

    async def take_login_state(self, key: str) -> bytes | None:
        # GETDEL is one atomic step: two callbacks racing with the same state cannot
        # both get it (RFC 6749 §10.12; RFC 9700 §4.7).
        with redis_errors_as(StoreUnavailable):
            value = await self._client.getdel(f"{self._prefix}login:{key}")
        return value.encode() if isinstance(value, str) else value

    async def remember_once(self, key: str, ttl: float) -> bool:
        with redis_errors_as(StoreUnavailable):
            first = await self._client.set(f"{self._prefix}once:{key}", b"1", nx=True, px=_ms(ttl))
        return bool(first)

    @asynccontextmanager
    async def lock(
        self, name: str, ttl: float, *, wait: float | None = None
    ) -> AsyncIterator[None]:
        key, token = f"{self._prefix}lock:{name}", secrets.token_hex(16)
        await self._acquire(key, token, ttl, ttl if wait is None else wait)
        try:
            yield
        finally:
            await self._unlock(key, token)

    async def _acquire(self, key: str, token: str, ttl: float, wait: float) -> None:
        deadline, delay = time.monotonic() + wait, 0.005
        while True:
            with redis_errors_as(StoreUnavailable):
                if await self._client.set(key, token, nx=True, px=_ms(ttl)):
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(f"lock {key!r} still held after {wait:.1f}s")
            # Jittered, capped backoff: waiters on several replicas don't poll in step.
            await asyncio.sleep(min(left, delay * random.uniform(0.5, 1.0)))
            delay = min(delay * 2, 0.1)

    async def _unlock(self, key: str, token: str) -> None:
        try:
            with redis_errors_as(StoreUnavailable):
                await self._release(keys=[key], args=[token])
        except StoreUnavailable as error:
            # Not raised over the body's own outcome: the TTL frees the lock anyway.
            log.warning("could not release %s (expires with its TTL): %s", key, error)

    # -- health, shutdown ---------------------------------------------------------

    async def ping(self) -> None:
        with redis_errors_as(StoreUnavailable):
            await self._client.ping()

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
