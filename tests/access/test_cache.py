"""`ActiveGrants`: the per-process cache of active grants the request path reads."""

from __future__ import annotations

import asyncio

from authgate.access.cache import ActiveGrants
from authgate.access.memory import MemoryGrantStore
from authgate.access.model import Grant, GrantState
from authgate.access.redis_store import RedisGrantStore
from authgate.identity import Identity
from tests.access.conftest import REQUEST_TIMEOUT, RETENTION, requested
from tests.testbed.clock import FakeClock
from tests.testbed.ports import free_port

BOB = Identity(subject="bob-sub", provider="corp", credential="session", username="bob")
NAMES = frozenset({"db-admin"})
REQUESTED = frozenset({GrantState.REQUESTED})


class CountingStore(MemoryGrantStore):
    """The real memory store, counting the reads the cache makes of it."""

    reads = 0

    async def of_subject(self, provider: str, subject: str) -> list[Grant]:
        self.reads += 1
        return await super().of_subject(provider, subject)


async def active_grant(store: MemoryGrantStore, clock: FakeClock, **kw: object) -> Grant:
    grant = requested(clock, **kw)  # type: ignore[arg-type]
    await store.create(grant)
    active = grant.activated(clock.now, "alice")
    await store.replace(active, REQUESTED)
    return active


def store_of(clock: FakeClock) -> CountingStore:
    return CountingStore(retention=RETENTION, request_timeout=REQUEST_TIMEOUT, clock=clock)


async def test_trusted_cache_reads_the_store_once_and_checks_expiry_itself() -> None:
    clock = FakeClock()
    store = store_of(clock)
    grant = await active_grant(store, clock, duration=60)
    cache = ActiveGrants(store, trusted=lambda: True)
    assert await cache.held(BOB, "db", NAMES, clock.now) == {"db-admin": grant.id}
    assert await cache.held(BOB, "db", NAMES, clock.advance(59)) == {"db-admin": grant.id}
    assert store.reads == 1
    # Expiry needs no message: the cached grant carries its end.
    assert await cache.held(BOB, "db", NAMES, clock.advance(1)) == {}
    assert store.reads == 1


async def test_invalidate_makes_the_next_read_see_a_revocation() -> None:
    clock = FakeClock()
    store = store_of(clock)
    grant = await active_grant(store, clock)
    cache = ActiveGrants(store, trusted=lambda: True)
    assert await cache.held(BOB, "db", NAMES, clock.now) == {"db-admin": grant.id}
    await store.replace(grant.ended(GrantState.REVOKED, clock.now, "alice"), frozenset({GrantState.ACTIVE}))
    cache.invalidate("corp", "bob-sub")
    assert await cache.held(BOB, "db", NAMES, clock.now) == {}
    cache.drop_all()
    assert len(cache) == 0


async def test_untrusted_cache_reads_every_time() -> None:
    clock = FakeClock()
    store = store_of(clock)
    await active_grant(store, clock)
    cache = ActiveGrants(store, trusted=lambda: False)
    for _ in range(3):
        assert set(await cache.held(BOB, "db", NAMES, clock.now) or {}) == {"db-admin"}
    assert store.reads == 3 and len(cache) == 0


async def test_route_scope_and_names_filter() -> None:
    clock = FakeClock()
    store = store_of(clock)
    await active_grant(store, clock, route="db")
    await active_grant(store, clock, entitlement="kube-admin")
    cache = ActiveGrants(store, trusted=lambda: True)
    assert set(await cache.held(BOB, "db", NAMES, clock.now) or {}) == {"db-admin"}
    assert await cache.held(BOB, "other", NAMES, clock.now) == {}
    both = frozenset({"db-admin", "kube-admin"})
    assert set(await cache.held(BOB, "other", both, clock.now) or {}) == {"kube-admin"}


async def test_a_read_racing_an_invalidation_is_not_kept() -> None:
    clock = FakeClock()
    gate = asyncio.Event()

    class SlowStore(CountingStore):
        async def of_subject(self, provider: str, subject: str) -> list[Grant]:
            found = await super().of_subject(provider, subject)
            await gate.wait()
            return found

    store = SlowStore(retention=RETENTION, request_timeout=REQUEST_TIMEOUT, clock=clock)
    await active_grant(store, clock)
    cache = ActiveGrants(store, trusted=lambda: True)
    reading = asyncio.create_task(cache.held(BOB, "db", NAMES, clock.now))
    await asyncio.sleep(0)
    cache.invalidate("corp", "bob-sub")  # a revocation arrives while the read waits
    gate.set()
    await reading
    assert len(cache) == 0  # the stale answer was not kept


async def test_an_unreachable_store_is_unknown_not_empty() -> None:
    clock = FakeClock()
    store = RedisGrantStore.from_url(
        f"redis://127.0.0.1:{free_port()}", prefix="t:", retention=RETENTION,
        request_timeout=REQUEST_TIMEOUT, clock=clock,
    )  # fmt: skip
    try:
        cache = ActiveGrants(store, trusted=lambda: True)
        assert await cache.held(BOB, "db", NAMES, clock.now) is None
    finally:
        await store.close()
