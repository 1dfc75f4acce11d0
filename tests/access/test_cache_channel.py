"""The grant cache on a real Redis channel: GRANT_CHANGED invalidates a subject in
another process's cache; a loss of the channel drops everything and stops caching."""

from __future__ import annotations

import uuid

from authgate.access.cache import ActiveGrants
from authgate.access.events import announce, listen
from authgate.access.model import GrantState
from authgate.access.redis_store import RedisGrantStore
from authgate.identity import Identity
from tests.access.conftest import REQUEST_TIMEOUT, RETENTION, requested
from tests.events.conftest import started, redis_channel, until
from tests.events.test_redis_channel import command
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer

BOB = Identity(subject="bob-sub", provider="corp", credential="session", username="bob")
NAMES = frozenset({"db-admin"})


async def test_changes_and_losses_reach_the_other_process_cache(redis_server_factory: object) -> None:
    server: RedisServer = redis_server_factory()  # type: ignore[operator]
    clock, name = FakeClock(), f"test:{uuid.uuid4().hex[:8]}:events"
    store = RedisGrantStore.from_url(server.url, prefix="t:", retention=RETENTION, request_timeout=REQUEST_TIMEOUT, clock=clock)
    ours, theirs = redis_channel(server.url, name), redis_channel(server.url, name)
    await started(ours, theirs)
    cache = ActiveGrants(store, trusted=lambda: theirs.connected)
    unwire = listen(cache, theirs)
    try:
        grant = requested(clock)
        await store.create(grant)
        active = grant.activated(clock.now, "alice")
        await store.replace(active, frozenset({GrantState.REQUESTED}))
        assert await cache.held(BOB, "db", NAMES, clock.now) == {"db-admin": active.id}
        assert len(cache) == 1
        await store.replace(active.ended(GrantState.REVOKED, clock.now, "alice"), frozenset({GrantState.ACTIVE}))
        await announce(ours, active)  # what the service does after every change
        await until(lambda: len(cache) == 0, what="the other process's entry dropped")
        assert await cache.held(BOB, "db", NAMES, clock.now) == {}
        assert len(cache) == 1
        assert await command(server, "CLIENT", "KILL", "TYPE", "pubsub") == 2
        await until(lambda: len(cache) == 0, what="everything dropped on the loss")
    finally:
        unwire()
        for channel in (ours, theirs):
            await channel.close()
        await store.close()
