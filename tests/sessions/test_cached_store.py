"""`CachedSessionStore`: the cache in front of a real Redis, invalidated by events.

Two stores on one Redis, each with a channel of its own, stand for two gateway
processes. A warm read makes no Redis command; a change made through either store
(logout, back-channel logout by sid and by subject, a refresh) stops the other one
serving its copy within the bound; a read that races an invalidation is not cached;
a lost channel drops everything and an outage fails closed; touches are written
behind, once per interval; the refresh coordinator re-reads under its lock from the
store itself. The contract suite (`test_store_contract.py`) runs on it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from authgate.events import EventKind, MemoryEventChannel, StateEvent
from authgate.sessions.cache import SessionCache
from authgate.sessions.cached_store import CachedSessionStore
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import storage_key
from authgate.sessions.memory import MemorySessionStore
from authgate.sessions.model import Session, Tokens
from authgate.sessions.refresh import RefreshCoordinator
from authgate.sessions.store import TOUCH_INTERVAL, StoreUnavailable
from tests.events.conftest import Heard, until
from tests.sessions.conftest import NewSession, cached_redis_store
from tests.sessions.personas import IDLE, alice
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer, commands

BOUND = 1.0  # the bound: a change reaches every replica within 1 s


@pytest.fixture
async def server(redis_server_factory: Callable[..., RedisServer]) -> RedisServer:
    return redis_server_factory()


@pytest.fixture
async def replicas(
    server: RedisServer, cipher: TokenCipher, clock: FakeClock, prefix: str
) -> AsyncIterator[tuple[CachedSessionStore, CachedSessionStore]]:
    one = await cached_redis_store(server, cipher, clock, prefix)
    two = await cached_redis_store(server, cipher, clock, prefix)
    yield one, two
    await one.close()
    await two.close()


async def test_a_warm_read_makes_no_redis_command(
    server: RedisServer, replicas: tuple[CachedSessionStore, ...], clock: FakeClock,
    new_session: NewSession,
) -> None:  # fmt: skip
    one, _ = replicas
    session = new_session()
    await one.create(session)
    before = await commands(server)
    for _ in range(100):
        assert await one.get(session.id, clock.now) == session
        await one.touch(session.id, clock.now)
    assert await commands(server) == before


async def warm(store: CachedSessionStore, session: Session, now: float) -> None:
    """Cached by `store` (its own read, as a request there would)."""
    assert await store.get(session.id, now) is not None
    assert store.cache is not None and store.cache.get(storage_key(session.id)) is not None


async def gone_within_bound(store: CachedSessionStore, session: Session, now: float) -> float:
    async def gone() -> bool:
        return await store.get(session.id, now) is None

    started = time.monotonic()
    while not await gone():
        assert time.monotonic() - started < BOUND, "still served after the bound"
        await asyncio.sleep(0.002)
    return time.monotonic() - started


async def test_a_logout_on_one_replica_ends_the_session_on_the_other(
    replicas: tuple[CachedSessionStore, ...], clock: FakeClock, new_session: NewSession
) -> None:
    one, two = replicas
    session = new_session()
    await one.create(session)
    await warm(two, session, clock.now)
    await one.delete(session.id)
    await gone_within_bound(two, session, clock.now)


@pytest.mark.parametrize("by", ["sid", "subject"])
async def test_a_back_channel_logout_ends_the_sessions_on_the_other_replica(
    replicas: tuple[CachedSessionStore, ...], clock: FakeClock, new_session: NewSession, by: str
) -> None:
    one, two = replicas
    ended = [new_session(provider_sid="sid-1"), new_session(provider_sid="sid-1")]
    other_sid = new_session(provider_sid="sid-2")  # the same subject, another sid
    bob = new_session(alice(subject="bob"), provider_sid="sid-3")  # another subject
    for session in [*ended, other_sid, bob]:
        await one.create(session)
        await warm(two, session, clock.now)
    if by == "sid":
        assert await one.delete_by_provider_sid("corp", "sid-1") == 2
        kept = [other_sid]
    else:
        assert await one.delete_by_subject("corp", ended[0].identity.subject) == 3
        ended, kept = [*ended, other_sid], []
    for session in ended:
        await gone_within_bound(two, session, clock.now)
    for session in [*kept, bob]:
        assert await two.get(session.id, clock.now) == session


async def test_a_signal_by_email_or_a_downgrade_reaches_the_other_replica(
    replicas: tuple[CachedSessionStore, ...], clock: FakeClock, new_session: NewSession
) -> None:
    """Shared Signals: sessions ended by email, identities changed by an index."""
    one, two = replicas
    lowered, ended = new_session(provider_sid="sid-1"), new_session(alice(subject="second"), provider_sid="sid-2")
    bob = new_session(dataclasses.replace(alice(subject="bob"), email="bob@corp.example.com"), provider_sid="sid-3")
    for session in (lowered, ended, bob):
        await one.create(session)
        await warm(two, session, clock.now)
    assert await one.change_identities("corp", "sid", "sid-1", lambda i: dataclasses.replace(i, acr="low")) == 1
    started = time.monotonic()
    while (got := await two.get(lowered.id, clock.now)) is not None and got.identity.acr != "low":
        assert time.monotonic() - started < BOUND, "the old acr still served after the bound"
        await asyncio.sleep(0.002)
    assert await one.delete_by_email("corp", "ALICE@corp.example.com") == 2  # both of hers
    await gone_within_bound(two, ended, clock.now)
    await gone_within_bound(two, lowered, clock.now)
    assert await two.get(bob.id, clock.now) == bob


async def test_a_refresh_on_one_replica_is_read_on_the_other(
    replicas: tuple[CachedSessionStore, ...], clock: FakeClock, new_session: NewSession
) -> None:
    one, two = replicas
    session = new_session()
    await one.create(session)
    await warm(two, session, clock.now)
    fresh = Tokens("at-2", "rt-2", "idt-2", clock.now + 600)
    await one.replace_tokens(session.id, fresh)
    started = time.monotonic()
    while (got := await two.get(session.id, clock.now)) is not None and got.tokens != fresh:
        assert time.monotonic() - started < BOUND, "old tokens still served after the bound"
        await asyncio.sleep(0.002)
    assert got is not None and got.tokens == fresh


async def test_each_mutation_publishes_its_event() -> None:
    events = MemoryEventChannel()
    heard = Heard().attach(events)
    store = CachedSessionStore(MemorySessionStore(idle_timeout=IDLE), events, idle_timeout=IDLE)
    key = storage_key("x" * 43)
    await store.delete("x" * 43)
    await store.replace_tokens("x" * 43, Tokens())
    await store.delete_by_provider_sid("corp", "sid-9")
    await store.delete_by_subject("corp", "alice")
    session = Session.begin(alice(), Tokens(), now=time.time(), max_lifetime=IDLE)
    await store.create(session)
    await store.change_identities("corp", "email", "alice@corp.example.com", lambda i: i)
    await store.delete_by_email("corp", "alice@corp.example.com")
    await until(lambda: len(heard.events) == 6)
    assert heard.events == [
        StateEvent(EventKind.SESSION_ENDED, session_key=key),
        StateEvent(EventKind.SESSION_CHANGED, session_key=key),
        StateEvent(EventKind.SID_ENDED, provider="corp", ref="sid-9"),
        StateEvent(EventKind.SUBJECT_ENDED, provider="corp", subject="alice"),
        # By index: one event per subject the index named.
        StateEvent(EventKind.SUBJECT_CHANGED, provider="corp", subject=alice().subject),
        StateEvent(EventKind.SUBJECT_ENDED, provider="corp", subject=alice().subject),
    ]
    assert store.cache is None  # the memory store is not cached


class GatedStore(MemorySessionStore):
    """A memory store whose reads wait for the test to let them finish."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = asyncio.Event()

    async def get(self, session_id: str, now: float) -> Session | None:
        found = await super().get(session_id, now)
        await self.gate.wait()
        return found


async def test_a_read_that_raced_an_invalidation_is_not_cached(
    clock: FakeClock, new_session: NewSession
) -> None:
    events = MemoryEventChannel()
    backend = GatedStore(idle_timeout=IDLE, clock=clock)
    store = CachedSessionStore(
        backend, events, idle_timeout=IDLE, cache=SessionCache(size=10, ttl=60)
    )
    session = new_session()
    await backend.create(session)  # made by "another replica": not in this cache
    read = asyncio.create_task(store.get(session.id, clock.now))
    await asyncio.sleep(0.01)  # the read has the old copy and waits
    # Another replica ends it; its event arrives while the read is in flight.
    await events.publish(StateEvent(EventKind.SESSION_ENDED, session_key=storage_key(session.id)))
    await asyncio.sleep(0.01)
    backend.gate.set()
    assert await read == session  # read before the logout: answered as read...
    await backend.delete(session.id)
    assert await store.get(session.id, clock.now) is None  # ...but never cached


async def test_a_lost_channel_drops_everything_and_an_outage_fails_closed(
    server: RedisServer, replicas: tuple[CachedSessionStore, ...], clock: FakeClock,
    new_session: NewSession,
) -> None:  # fmt: skip
    one, _ = replicas
    session = new_session()
    await one.create(session)
    await warm(one, session, clock.now)
    await server.astop()
    await until(lambda: one.cache is not None and len(one.cache) == 0, what="cache dropped")
    with pytest.raises(StoreUnavailable):
        await one.get(session.id, clock.now)
    await server.astart()  # no persistence: the session is gone with the old server
    await until(lambda: one._events.connected, what="subscribed again")
    assert await one.get(session.id, clock.now) is None


async def test_touches_are_written_behind_once_per_interval(
    server: RedisServer, replicas: tuple[CachedSessionStore, ...], clock: FakeClock,
    new_session: NewSession, prefix: str,
) -> None:  # fmt: skip
    one, two = replicas
    session = new_session()
    await one.create(session)
    await warm(two, session, clock.now)
    admin = aioredis.from_url(server.url)
    key = f"{prefix}s:{{{storage_key(session.id)}}}"
    try:
        later = clock.advance(TOUCH_INTERVAL + 1)
        await admin.execute_command("CLIENT", "PAUSE", "2000", "WRITE")
        # Answered while Redis takes no writes: the touch waits for no round trip.
        await asyncio.wait_for(one.touch(session.id, later), 0.5)
        got = await one.get(session.id, later)
        assert got is not None and got.last_seen == later  # the cached copy slid
        await admin.execute_command("CLIENT", "UNPAUSE")
        started = time.monotonic()
        while float(await admin.hget(key, "seen") or 0) != later:
            assert time.monotonic() - started < 5, "the touch was never written"
            await asyncio.sleep(0.01)
        before = await commands(server)
        for _ in range(50):  # within the interval: nothing more to write
            await one.touch(session.id, clock.advance(0.5))
        assert await commands(server) == before
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await admin.aclose()
    # The other replica's copy (seen at creation) looks idle-ended by its own clock:
    # read through, and alive by the touch written behind.
    much_later = clock.now = later + IDLE - 10
    assert (await two.get(session.id, much_later)) is not None


async def test_a_full_touch_queue_touches_inline(
    server: RedisServer, cipher: TokenCipher, clock: FakeClock, prefix: str,
    new_session: NewSession,
) -> None:  # fmt: skip
    store = await cached_redis_store(server, cipher, clock, prefix)
    store._touches._limit = 0  # every offer refused: the back pressure path
    try:
        session = new_session()
        await store.create(session)
        later = clock.advance(TOUCH_INTERVAL + 1)
        await store.touch(session.id, later)
        # Written when touch returned (inline), not behind: the store has it already.
        stored = await store.store.get(session.id, later)
        assert stored == dataclasses.replace(session, last_seen=later)
    finally:
        await store.close()


async def test_refresh_re_reads_under_the_lock_from_the_store_not_the_cache(
    server: RedisServer, replicas: tuple[CachedSessionStore, ...], clock: FakeClock,
    new_session: NewSession,
) -> None:  # fmt: skip
    one, _ = replicas
    session = new_session(tokens=Tokens("at-1", "rt-1", "idt", clock.now + 30))  # due
    await one.create(session)
    await warm(one, session, clock.now)
    # Another replica refreshed; its event has not arrived here (written behind the
    # cache's back, as a slow event would leave it).
    fresh = Tokens("at-2", "rt-2", "idt", clock.now + 600)
    await one.store.replace_tokens(session.id, fresh)
    calls: list[str | None] = []

    async def refresh(tokens: Tokens) -> Tokens:
        calls.append(tokens.refresh_token)  # would redeem rt-1 a second time
        return Tokens("at-3", "rt-3", "idt", clock.now + 600)

    coordinator = RefreshCoordinator(one, 60.0, reread=one.store)
    got = await coordinator.ensure_fresh(session, refresh, clock)
    assert calls == []
    assert got is not None and got.tokens == fresh
