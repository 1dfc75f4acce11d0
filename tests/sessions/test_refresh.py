"""Single-flight token refresh: one `refresh` call per expiring session, however many
requests and replicas ask at once — against the memory store and a real Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from authgate.sessions.cipher import TokenCipher
from authgate.sessions.model import Session, Tokens
from authgate.sessions.refresh import RefreshCoordinator
from authgate.sessions.store import SessionStore
from tests.sessions.conftest import FakeClock, NewSession, redis_store
from tests.testbed.redis import RedisServer

REFRESH_BEFORE = 60.0


class ProviderStub:
    """A token endpoint with rotation: each refresh token is good once."""

    def __init__(self, clock: FakeClock, delay: float = 0.05) -> None:
        self.clock, self.delay = clock, delay
        self.calls: list[str | None] = []
        self.fail: Exception | None = None

    async def refresh(self, tokens: Tokens) -> Tokens:
        self.calls.append(tokens.refresh_token)
        await asyncio.sleep(self.delay)  # long enough for every caller to pile up
        if self.fail is not None:
            raise self.fail
        n = len(self.calls)
        return Tokens(f"at-{n + 1}", f"rt-{n + 1}", tokens.id_token, self.clock.now + 300)


@pytest.fixture
def provider(clock: FakeClock) -> ProviderStub:
    return ProviderStub(clock)


async def _expiring(store: SessionStore, new_session: NewSession, clock: FakeClock) -> Session:
    session = new_session(tokens=Tokens("at-1", "rt-1", "idt", clock.now + 30))
    await store.create(session)
    return session


async def test_fresh_token_is_left_alone(
    store: SessionStore, clock: FakeClock, new_session: NewSession, provider: ProviderStub
) -> None:
    session = new_session(tokens=Tokens("at-1", "rt-1", None, clock.now + 600))
    await store.create(session)
    coordinator = RefreshCoordinator(store, REFRESH_BEFORE)
    assert await coordinator.ensure_fresh(session, provider.refresh, clock) is session
    assert provider.calls == []


@pytest.mark.parametrize(
    "tokens",
    [Tokens("at-1", None, None, 0.0), Tokens("at-1", "rt-1", None, None)],
    ids=["no-refresh-token", "unknown-expiry"],
)
async def test_nothing_to_refresh_with(
    store: SessionStore, clock: FakeClock, new_session: NewSession, provider: ProviderStub,
    tokens: Tokens,
) -> None:  # fmt: skip
    session = new_session(tokens=tokens)
    coordinator = RefreshCoordinator(store, REFRESH_BEFORE)
    assert await coordinator.ensure_fresh(session, provider.refresh, clock) is session
    assert provider.calls == []


async def test_twenty_concurrent_requests_make_one_refresh(
    store: SessionStore, clock: FakeClock, new_session: NewSession, provider: ProviderStub
) -> None:
    session = await _expiring(store, new_session, clock)
    coordinator = RefreshCoordinator(store, REFRESH_BEFORE)
    results = await asyncio.gather(
        *(coordinator.ensure_fresh(session, provider.refresh, clock) for _ in range(20))
    )
    assert provider.calls == ["rt-1"]
    assert {r.tokens.access_token for r in results if r is not None} == {"at-2"}
    stored = await store.get(session.id, clock.now)
    assert stored is not None and stored.tokens.refresh_token == "rt-2"
    assert stored == dataclasses.replace(session, tokens=stored.tokens)


async def test_a_later_expiry_refreshes_again(
    store: SessionStore, clock: FakeClock, new_session: NewSession, provider: ProviderStub
) -> None:
    session = await _expiring(store, new_session, clock)
    coordinator = RefreshCoordinator(store, REFRESH_BEFORE)
    first = await coordinator.ensure_fresh(session, provider.refresh, clock)
    assert first is not None
    clock.advance(300)
    second = await coordinator.ensure_fresh(first, provider.refresh, clock)
    assert provider.calls == ["rt-1", "rt-2"]
    assert second is not None and second.tokens.refresh_token == "rt-3"


@pytest.fixture
async def replicas(
    store: SessionStore, request: pytest.FixtureRequest, cipher: TokenCipher, clock: FakeClock,
    prefix: str,
) -> AsyncIterator[tuple[SessionStore, SessionStore]]:  # fmt: skip
    """Two replicas' views of one store: for Redis, two clients (two connection pools)."""
    if request.node.callspec.params["store"] == "memory":
        yield store, store
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    other = redis_store(server, cipher, clock, prefix)
    yield store, other
    await other.close()


async def test_two_replicas_make_one_refresh(
    replicas: tuple[SessionStore, SessionStore], clock: FakeClock, new_session: NewSession,
    provider: ProviderStub,
) -> None:  # fmt: skip
    one, two = replicas
    session = await _expiring(one, new_session, clock)
    coordinators = [RefreshCoordinator(s, REFRESH_BEFORE) for s in (one, two)]
    results = await asyncio.gather(
        *(coordinators[i % 2].ensure_fresh(session, provider.refresh, clock) for i in range(20))
    )
    assert provider.calls == ["rt-1"]  # the second replica re-read the refreshed tokens
    assert {r.tokens.access_token for r in results if r is not None} == {"at-2"}


async def test_a_failed_refresh_reaches_every_caller_once(
    store: SessionStore, clock: FakeClock, new_session: NewSession, provider: ProviderStub
) -> None:
    session = await _expiring(store, new_session, clock)
    coordinator = RefreshCoordinator(store, REFRESH_BEFORE)
    provider.fail = RuntimeError("invalid_grant")
    results = await asyncio.gather(
        *(coordinator.ensure_fresh(session, provider.refresh, clock) for _ in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert provider.calls == ["rt-1"]
    provider.fail = None  # the flight is over: a later request tries again
    again = await coordinator.ensure_fresh(session, provider.refresh, clock)
    assert again is not None and again.tokens.access_token == "at-3"


async def test_a_cancelled_caller_does_not_cancel_the_flight(
    store: SessionStore, clock: FakeClock, new_session: NewSession, provider: ProviderStub
) -> None:
    session = await _expiring(store, new_session, clock)
    coordinator = RefreshCoordinator(store, REFRESH_BEFORE)
    leaving = asyncio.create_task(coordinator.ensure_fresh(session, provider.refresh, clock))
    staying = asyncio.create_task(coordinator.ensure_fresh(session, provider.refresh, clock))
    await asyncio.sleep(0.01)
    leaving.cancel()
    result = await staying
    assert leaving.cancelled() and provider.calls == ["rt-1"]
    assert result is not None and result.tokens.access_token == "at-2"


async def test_a_session_ended_meanwhile_is_none(
    store: SessionStore, clock: FakeClock, new_session: NewSession, provider: ProviderStub
) -> None:
    session = await _expiring(store, new_session, clock)
    await store.delete(session.id)  # logged out by another request
    coordinator = RefreshCoordinator(store, REFRESH_BEFORE)
    assert await coordinator.ensure_fresh(session, provider.refresh, clock) is None
    assert provider.calls == []
