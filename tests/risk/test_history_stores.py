"""What only one of the two history stores has: key layout, TTLs, bounds, outages."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from authgate.config.schema_adaptive import RiskHistoryConfig
from authgate.config.schema_auth import StoreConfig
from authgate.risk.history import build_history_store, ip_key, user_key
from authgate.risk.history_memory import MemoryHistoryStore
from authgate.risk.history_redis import RedisHistoryStore
from authgate.risk.model import History, Location
from authgate.risk.signal import Signal
from authgate.sessions.store import StoreUnavailable
from tests.risk.conftest import LIMITS, TTL
from tests.testbed.clock import FakeClock
from tests.testbed.redis import RedisServer
from tests.testbed.redis_cluster import RedisClusterBed

ALICE = user_key("corp", "alice@example.com")


@pytest.fixture
async def redis_pair(redis_server: RedisServer) -> tuple[RedisHistoryStore, Redis, str]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    client = Redis.from_url(redis_server.url, decode_responses=False)
    return RedisHistoryStore(client, prefix=prefix, ttl=TTL), client, prefix


async def test_redis_keys_are_hashed_and_hash_tagged(
    redis_pair: tuple[RedisHistoryStore, Redis, str], clock: FakeClock
) -> None:
    store, client, prefix = redis_pair
    await store.record_allowed(ALICE, Location(clock.now, "GB"), "dev-1", clock.now)
    await store.record_failed_login(ALICE, clock.now)
    await store.record_failed_login(ip_key("203.0.113.9"), clock.now)
    keys = sorted(k.decode() for k in await client.keys(prefix + "*"))
    assert len(keys) == 3
    assert not any("alice" in k or "203.0.113" in k for k in keys)
    user = [k for k in keys if ":risk:u:" in k][0]
    tag = user[user.index("{") :]
    assert prefix + "risk:f:" + tag in keys  # the user's two keys share a cluster slot
    assert 0 < await client.pttl(user) <= TTL * 1000
    await client.aclose()


async def test_redis_ignores_damaged_fields(
    redis_pair: tuple[RedisHistoryStore, Redis, str], clock: FakeClock
) -> None:
    store, client, prefix = redis_pair
    await store.record_allowed(ALICE, Location(clock.now, "GB"), "dev-1", clock.now)
    user = (await client.keys(prefix + "risk:u:*"))[0]
    await client.hset(user, mapping={"loc": "garbage", "d:dev-2": "yesterday", "c:FR": "nan"})
    history = await store.get(ALICE, clock.now)
    assert history.last_location is None
    assert history.devices == {"dev-1"} and history.countries == {"GB"}
    # The next write prunes what it cannot read.
    await store.record_allowed(ALICE, None, None, clock.now)
    assert not {b"d:dev-2", b"c:FR"} & set(await client.hkeys(user))
    await client.aclose()


async def test_redis_refuses_a_decoding_client(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses=False"):
        RedisHistoryStore(client, prefix="x:", ttl=TTL)
    await client.aclose()


async def test_redis_outage_is_store_unavailable(
    redis_server_factory: Callable[..., RedisServer], clock: FakeClock
) -> None:
    server = redis_server_factory()
    store = RedisHistoryStore.from_url(server.url, LIMITS, prefix="t:", timeout=0.5)
    await store.record_allowed(ALICE, None, "dev-1", clock.now)
    await server.astop()
    with pytest.raises(StoreUnavailable):
        await store.get(ALICE, clock.now)
    with pytest.raises(StoreUnavailable):
        await store.record_allowed(ALICE, None, "dev-1", clock.now)
    with pytest.raises(StoreUnavailable):
        await store.record_failed_login(ALICE, clock.now)
    with pytest.raises(StoreUnavailable):
        await store.ping()
    await server.astart()
    assert (await store.get(ALICE, clock.now)).devices == set()  # the server kept no data
    await store.close()


async def test_memory_keeps_at_most_max_users(clock: FakeClock) -> None:
    store = MemoryHistoryStore(ttl=TTL, max_users=2)
    for name in ("a", "b", "c"):
        await store.record_allowed(name, None, "dev", clock.now)
    assert await store.get("a", clock.now) == History()  # the least recently used went
    assert (await store.get("c", clock.now)).devices == {"dev"}


async def test_build_picks_the_backend() -> None:
    assert isinstance(build_history_store(StoreConfig(), LIMITS), MemoryHistoryStore)
    redis = StoreConfig(backend="redis", url="redis://127.0.0.1:1/0")
    built = build_history_store(redis, RiskHistoryConfig())
    assert isinstance(built, RedisHistoryStore)
    await built.close()


async def test_on_a_redis_cluster(redis_cluster: RedisClusterBed, clock: FakeClock) -> None:
    # Reads pipeline a user's keys (one slot) with an IP's failure key (another slot).
    config = StoreConfig.model_validate(
        {"backend": "redis", "cluster": {"nodes": redis_cluster.nodes},
         "key_prefix": f"test:{uuid.uuid4().hex[:12]}:"}
    )  # fmt: skip
    store = build_history_store(config, LIMITS)
    await store.record_allowed(ALICE, Location(clock.now, "GB"), "dev-1", clock.now)
    await store.acknowledge(ALICE, "s", [Signal.NEW_DEVICE], clock.now, clock.now + 60)
    for _ in range(2):
        await store.record_failed_login(ip_key("203.0.113.9"), clock.now)
    history = await store.get(ALICE, clock.now, session_id="s", client_ip="203.0.113.9")
    assert history.devices == {"dev-1"} and history.countries == {"GB"}
    assert history.failed_logins == 2 and history.acknowledged == {Signal.NEW_DEVICE}
    await store.close()
