"""Fixtures of the session tests: a fake clock, keys, personas, and `store`.

`store` is the same contract suite's subject three times: the memory store, the Redis
store on the session's real `redis_server`, each Redis test under a prefix of its own,
and that Redis store behind the process's session cache and its state-event channel
(`CachedSessionStore`, as every gateway on Redis runs it).
Both stores take the fake clock, so expiry tests advance time instead of sleeping;
only Redis-side TTLs (login state, one-time keys) need a short real sleep.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from authgate.events.redis import RedisEventChannel
from authgate.identity import Identity
from authgate.sessions.cache import SessionCache
from authgate.sessions.cached_store import CachedSessionStore
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import SessionKeys
from authgate.sessions.memory import MemorySessionStore
from authgate.sessions.model import Session, Tokens
from authgate.sessions.redis_store import RedisSessionStore
from authgate.sessions.store import SessionStore
from tests.events.conftest import subscribed
from tests.sessions.personas import IDLE, MAX_LIFETIME, SECRET_NEW, SECRET_OLD, alice
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys() -> SessionKeys:
    return SessionKeys.from_secrets([SECRET_NEW, SECRET_OLD])


@pytest.fixture
def cipher(keys: SessionKeys) -> TokenCipher:
    return TokenCipher(keys)


def redis_store(
    server: RedisServer, cipher: TokenCipher, clock: FakeClock, prefix: str
) -> RedisSessionStore:
    return RedisSessionStore.from_url(
        server.url, cipher=cipher, prefix=prefix, idle_timeout=IDLE,
        max_lifetime=MAX_LIFETIME, clock=clock,
    )  # fmt: skip


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


async def cached_redis_store(
    server: RedisServer, cipher: TokenCipher, clock: FakeClock, prefix: str
) -> CachedSessionStore:
    """The Redis store behind a cache, its channel subscribed (closed with the store)."""
    events = await subscribed(server.url, f"{prefix}events")
    backend = redis_store(server, cipher, clock, prefix)
    cache = SessionCache(size=1000, ttl=60)
    return ClosingChannel(backend, events, idle_timeout=IDLE, cache=cache)


class ClosingChannel(CachedSessionStore):
    """Closes its channel too (in a gateway the generation closes it)."""

    def __init__(self, store: SessionStore, events: RedisEventChannel, **kwargs: Any) -> None:
        super().__init__(store, events, **kwargs)
        self.events = events

    async def close(self) -> None:
        await super().close()
        await self.events.close()


@pytest.fixture(params=["memory", "redis", "cached-redis"])
async def store(
    request: pytest.FixtureRequest, clock: FakeClock, cipher: TokenCipher, prefix: str
) -> AsyncIterator[SessionStore]:
    built: SessionStore
    if request.param == "memory":
        built = MemorySessionStore(idle_timeout=IDLE, clock=clock)
    elif request.param == "redis":
        built = redis_store(request.getfixturevalue("redis_server"), cipher, clock, prefix)
    else:
        server = request.getfixturevalue("redis_server")
        built = await cached_redis_store(server, cipher, clock, prefix)
    yield built
    await built.close()


@pytest.fixture
def new_session(clock: FakeClock) -> NewSession:
    return NewSession(clock)


class NewSession:
    """Builds sessions starting at the fake clock's now."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __call__(
        self,
        identity: Identity | None = None,
        *,
        tokens: Tokens | None = None,
        provider_sid: str | None = "sid-1",
    ) -> Session:
        return Session.begin(
            identity or alice(),
            tokens or Tokens("at-1", "rt-1", "idt-1", self.clock.now + 300),
            now=self.clock.now,
            max_lifetime=MAX_LIFETIME,
            provider_sid=provider_sid,
        )
