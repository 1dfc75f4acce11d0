"""What each grant store does its own way: retention (a dict sweep, a Redis TTL)."""

from __future__ import annotations

import uuid

from authgate.access.memory import MemoryGrantStore
from authgate.access.model import GrantState
from authgate.access.redis_store import RedisGrantStore
from tests.access.conftest import REQUEST_TIMEOUT, RETENTION, requested
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer

REQUESTED = frozenset({GrantState.REQUESTED})


async def test_memory_forgets_ended_grants_after_the_retention(clock: FakeClock) -> None:
    store = MemoryGrantStore(retention=RETENTION, request_timeout=REQUEST_TIMEOUT, clock=clock)
    grant = requested(clock)
    await store.create(grant)
    await store.replace(grant.ended(GrantState.DENIED, clock.now, "alice"), REQUESTED)
    clock.advance(RETENTION - 1)
    assert await store.get(grant.id) is not None
    clock.advance(2)
    assert await store.get(grant.id) is None and len(store) == 0


async def test_redis_ended_grant_keys_live_for_the_retention(
    clock: FakeClock, redis_server: RedisServer
) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    store = RedisGrantStore.from_url(
        redis_server.url, prefix=prefix, retention=RETENTION, request_timeout=REQUEST_TIMEOUT, clock=clock
    )
    try:
        grant = requested(clock)
        await store.create(grant)
        key = f"{prefix}{{grants}}:g:{grant.id}"
        client = store._client  # noqa: SLF001 - the TTL is the Redis store's own mechanism
        open_ttl = await client.pttl(key)
        assert abs(open_ttl - (REQUEST_TIMEOUT + RETENTION) * 1000) < 5000
        await store.replace(grant.ended(GrantState.REVOKED, clock.now, "alice"), REQUESTED)
        assert abs(await client.pttl(key) - RETENTION * 1000) < 5000
    finally:
        await store.close()
