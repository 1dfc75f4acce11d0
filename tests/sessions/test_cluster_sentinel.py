"""The Redis session store on a real Redis Cluster and through a real Sentinel failover.

- Cluster: the whole `SessionStore` contract suite (`test_store_contract.py`) is
  collected again in this module, where `store` is a store built by `build_store`
  from `store.cluster`. Further tests check that sessions spread over the masters,
  that index sets in other slots still end them, that a master without the Lua
  scripts (a restarted or promoted node) loads them again, and that a master that
  restarts within a second is ridden through.
- Sentinel: sessions written before the master is killed are all read back,
  right after the kill, through the same store object — the client asks the
  sentinels for the new master by itself.
- Config: `store:` takes exactly one of url / cluster / sentinel for a redis store.
- Client: nested redis-py retries end at one shared deadline.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError

from authgate.config.check import check_config
from authgate.config.schema_auth import (
    RedisClusterConfig,
    RedisSentinelConfig,
    SessionsConfig,
    StoreConfig,
)
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import storage_key
from authgate.sessions.model import Session
from authgate.sessions.redis_client import DeadlineRetry
from authgate.sessions.store import SessionStore, build_store
from tests.sessions import test_store_contract
from tests.sessions.conftest import FakeClock, NewSession
from tests.sessions.personas import IDLE, MAX_LIFETIME, alice
from tests.testbed.redis_cluster import (
    RedisClusterBed,
    RedisSentinelBed,
    running_redis_cluster,
)

# The contract suite, collected again here: `store` below is the cluster-backed one.
globals().update(
    {name: test for name, test in vars(test_store_contract).items() if name.startswith("test_")}
)

SESSIONS = SessionsConfig(idle_timeout=IDLE, max_lifetime=MAX_LIFETIME)


def cluster_store(
    nodes: list[str], cipher: TokenCipher, clock: FakeClock, prefix: str
) -> SessionStore:
    config = StoreConfig(
        backend="redis", cluster=RedisClusterConfig(nodes=nodes), key_prefix=prefix
    )
    return build_store(config, SESSIONS, clock, cipher=cipher)


@pytest.fixture
async def store(
    redis_cluster: RedisClusterBed, cipher: TokenCipher, clock: FakeClock, prefix: str
) -> AsyncIterator[SessionStore]:
    built = cluster_store(redis_cluster.nodes, cipher, clock, prefix)
    yield built
    await built.close()


def people(count: int) -> list[str]:
    return [f"user-{n:03d}" for n in range(count)]


async def session_keys_per_node(bed: RedisClusterBed, prefix: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for server in bed.servers:
        client = aioredis.Redis(host=server.host, port=server.port)
        try:
            found = [key async for key in client.scan_iter(match=f"{prefix}s:*")]
        finally:
            await client.aclose()
        counts[server.port] = len(found)
    return counts


async def test_sessions_spread_over_the_masters(
    store: SessionStore, redis_cluster: RedisClusterBed, prefix: str, new_session: NewSession,
    clock: FakeClock,
) -> None:  # fmt: skip
    sessions = [new_session(alice(subject=sub)) for sub in people(30)]
    for session in sessions:
        await store.create(session)
    counts = await session_keys_per_node(redis_cluster, prefix)
    assert sum(counts.values()) == 30
    assert sum(1 for n in counts.values() if n) >= 2, counts
    for session in sessions:
        assert await store.get(session.id, clock.now) == session


async def test_one_subject_across_slots_is_ended_by_its_index(
    store: SessionStore, redis_cluster: RedisClusterBed, prefix: str, new_session: NewSession,
    clock: FakeClock,
) -> None:  # fmt: skip
    # One person, many devices: the index set sits in one slot, the sessions in many.
    sessions = [new_session(provider_sid=f"sid-{n}") for n in range(20)]
    for session in sessions:
        await store.create(session)
    assert len({key_slot(f"{prefix}s:{{{storage_key(s.id)}}}".encode()) for s in sessions}) > 1
    assert await store.delete_by_provider_sid("corp", "sid-3") == 1
    assert await store.delete_by_subject("corp", alice().subject) == 19
    assert sum((await session_keys_per_node(redis_cluster, prefix)).values()) == 0
    assert all([await store.get(s.id, clock.now) is None for s in sessions])


async def test_scripts_are_loaded_again_on_a_master_that_lacks_them(
    store: SessionStore, redis_cluster: RedisClusterBed, new_session: NewSession,
    clock: FakeClock,
) -> None:  # fmt: skip
    session = new_session()
    await store.create(session)
    await store.touch(session.id, clock.advance(120))  # EVALSHA: the script is loaded
    for server in redis_cluster.servers:  # as a restarted or promoted master is
        client = aioredis.Redis(host=server.host, port=server.port)
        try:
            await client.script_flush()
        finally:
            await client.aclose()
    await store.touch(session.id, clock.advance(120))  # NOSCRIPT, then loaded again
    got = await store.get(session.id, clock.now)
    assert got is not None and got.last_seen == clock.now


async def test_a_master_restarting_within_a_second_is_ridden_through(
    cipher: TokenCipher, clock: FakeClock, prefix: str
) -> None:
    with running_redis_cluster() as bed:
        built = cluster_store(bed.nodes, cipher, clock, prefix)
        try:
            await built.ping()  # the slot map is known before the node goes away
            server = bed.server_for_slot(key_slot(f"{prefix}login:state-0".encode()))
            await server.astop()

            async def come_back() -> None:
                await asyncio.sleep(0.3)
                # A restarted master answers CLUSTERDOWN for its first 2 s
                # (CLUSTER_WRITABLE_DELAY in cluster.c): the write waits for that too.
                await server.astart()

            returned = asyncio.create_task(come_back())
            started = time.monotonic()
            await built.put_login_state("state-0", b"verifier", ttl=60)
            waited = time.monotonic() - started
            await returned
            assert await built.take_login_state("state-0") == b"verifier"
            assert waited >= 0.3  # it was down; the write waited for it, then landed
        finally:
            await built.close()


# -- Sentinel ---------------------------------------------------------------------------


def sentinel_store(
    bed: RedisSentinelBed, cipher: TokenCipher, clock: FakeClock, prefix: str
) -> SessionStore:
    config = StoreConfig(
        backend="redis",
        sentinel=RedisSentinelConfig(nodes=bed.sentinel_nodes, service=bed.service),
        key_prefix=prefix,
    )
    return build_store(config, SESSIONS, clock, cipher=cipher)


async def wait_for_replica(address: str) -> None:
    # Replication is asynchronous: the master acknowledges a write before its replica
    # has it, and a crash in between loses that write whatever the client does —
    # that window is Redis's durability, not the gateway's. WAIT blocks until the
    # replica has acknowledged every write made so far, so what this test checks is
    # what the gateway controls: following the failover to the replicated data.
    host, port = address.rsplit(":", 1)
    client = aioredis.Redis(host=host, port=int(port))
    try:
        assert await client.wait(1, 1000) == 1  # WAIT numreplicas timeout-ms
    finally:
        await client.aclose()


@pytest.mark.timeout(30)
async def test_a_sentinel_failover_loses_no_session(
    redis_sentinel: RedisSentinelBed, cipher: TokenCipher, clock: FakeClock, prefix: str,
    new_session: NewSession,
) -> None:  # fmt: skip
    built = sentinel_store(redis_sentinel, cipher, clock, prefix)
    try:
        sessions = [new_session(alice(subject=sub)) for sub in people(50)]
        for session in sessions:
            await built.create(session)
        await built.touch(sessions[0].id, clock.advance(120))  # the touch script, loaded
        old_master = redis_sentinel.master_address
        await wait_for_replica(old_master)

        redis_sentinel.kill_master()
        started = time.monotonic()
        # No wait for the sentinels here: the store must ride the failover by itself.
        got = [await built.get(session.id, clock.now) for session in sessions]
        ridden = time.monotonic() - started
        assert got[1:] == sessions[1:]
        assert got[0] is not None and got[0].last_seen == clock.now

        new_master = await asyncio.to_thread(redis_sentinel.wait_for_new_master, 10)
        assert new_master != old_master
        assert ridden < 15, f"rode the failover for {ridden:.1f}s"
        # Writes and scripts work on the promoted replica, from the same object.
        await built.touch(sessions[1].id, clock.advance(120))
        later = new_session(alice(subject="after-failover"))
        await built.create(later)
        assert await built.get(later.id, clock.now) == later
        assert await built.delete_by_subject("corp", "user-007") == 1
    finally:
        await built.close()


async def test_sessions_are_on_the_master_sentinel_names(
    redis_sentinel: RedisSentinelBed, cipher: TokenCipher, clock: FakeClock, prefix: str,
    new_session: NewSession,
) -> None:  # fmt: skip
    built = sentinel_store(redis_sentinel, cipher, clock, prefix)
    try:
        session: Session = new_session()
        await built.create(session)
        master = redis_sentinel.server_at(redis_sentinel.master_address)
        client = aioredis.Redis(host=master.host, port=master.port)
        try:
            assert await client.exists(f"{prefix}s:{{{storage_key(session.id)}}}") == 1
        finally:
            await client.aclose()
    finally:
        await built.close()


# -- config -----------------------------------------------------------------------------

CLUSTER = {"nodes": ["10.0.0.1:6379", "redis-1.internal:6379"]}
SENTINEL = {"nodes": ["10.0.0.1:26379"], "service": "authgate"}


@pytest.mark.parametrize(
    "fields",
    [
        {"backend": "redis", "url": "redis://127.0.0.1:6379/0"},
        {"backend": "redis", "cluster": CLUSTER},
        {"backend": "redis", "sentinel": {**SENTINEL, "password": "pw"}},
        # Unused with the memory backend: kept in the file to switch back and forth.
        {"backend": "memory", "url": "redis://127.0.0.1:6379/0"},
        {"backend": "memory", "url": "redis://h:1/0", "cluster": CLUSTER, "sentinel": SENTINEL},
        {"backend": "memory"},
    ],
)
def test_store_config_accepts(fields: dict[str, object]) -> None:
    StoreConfig.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backend": "redis"}, "needs one of url"),
        (
            {"backend": "redis", "url": "redis://h:1/0", "cluster": CLUSTER},
            "give one of url, cluster, sentinel for the redis store (got url, cluster)",
        ),
        (
            {"backend": "redis", "cluster": CLUSTER, "sentinel": SENTINEL},
            "(got cluster, sentinel)",
        ),
        ({"backend": "redis", "cluster": {"nodes": []}}, "at least 1 item"),
        ({"backend": "redis", "cluster": {"nodes": ["10.0.0.1"]}}, "not a Redis node"),
        ({"backend": "redis", "cluster": {"nodes": ["10.0.0.1:99999"]}}, "not a Redis node"),
        ({"backend": "redis", "sentinel": {"nodes": ["h:26379"]}}, "service"),
        ({"backend": "redis", "cluster": CLUSTER, "key_prefix": "{ag}:"}, "hash tags"),
    ],
)
def test_store_config_refuses(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        StoreConfig.model_validate(fields)


@pytest.mark.parametrize("where", [{"cluster": CLUSTER}, {"sentinel": SENTINEL}])
def test_a_config_file_with_cluster_or_sentinel_passes_check_config(
    where: dict[str, object], tmp_path: Path
) -> None:
    path = tmp_path / "authgate.yaml"
    config = {
        "secrets": {"cookie_secret": "cluster-test-cookie-secret-0123456789"},
        "store": {"backend": "redis", **where},
        "routes": [{"id": "app", "match": {"host": "app.example.com"}, "upstream": "http://a:1"}],
    }
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    out = io.StringIO()
    # host=False: the file is the subject, not this machine's port 8080 or /var/lib.
    assert check_config(str(path), out, host=False) == 0, out.getvalue()


# -- client -----------------------------------------------------------------------------


async def test_nested_retries_share_one_deadline() -> None:
    # As redis-py nests them: a retried command whose every attempt reconnects, and
    # the reconnect is retried too. A plain Retry would multiply the two loops.
    retry = DeadlineRetry(ExponentialBackoff(cap=0.02, base=0.01), budget=0.3)
    attempts = 0

    async def connect() -> None:
        nonlocal attempts
        attempts += 1
        raise RedisConnectionError("refused")

    async def command() -> None:
        await retry.call_with_retry(connect, lambda error: asyncio.sleep(0))

    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await retry.call_with_retry(command, lambda error: asyncio.sleep(0))
    assert time.monotonic() - started < 0.5
    assert attempts > 5  # it did retry, with backoff, until the deadline
    # The next operation gets a budget of its own.
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await retry.call_with_retry(connect, lambda error: asyncio.sleep(0))
    assert 0.2 < time.monotonic() - started < 0.5
