"""`RedisEventChannel` on real Redis: losses are seen, reconnects resubscribe.

A stopped or restarted server, a connection Redis kills (which redis-py would
reconnect and resubscribe silently), a server that stops answering (CLIENT PAUSE):
each turns `connected` False and calls `on_lost`; once resubscribed, events flow
again and `on_lost` is called once more. A junk message is skipped. On the 3-master
cluster, subscribers on different nodes all hear one PUBLISH, and a subscriber whose
node restarts comes back. Through Sentinel, the channel follows a failover to the
promoted replica.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from authgate.config.schema_auth import RedisClusterConfig, RedisSentinelConfig, StoreConfig
from authgate.events import EventKind, StateEvent, build_channel
from authgate.events.redis import PING_EVERY, RedisEventChannel
from authgate.sessions.redis_client import cluster_client
from authgate.sessions.store import StoreUnavailable
from tests.events.conftest import Heard, redis_channel, started, until
from tests.testbed.redis import RedisServer
from tests.testbed.redis_cluster import RedisClusterBed, RedisSentinelBed

ENDED = StateEvent(EventKind.SESSION_ENDED, session_key="c" * 64)
LATER = StateEvent(EventKind.SESSION_CHANGED, session_key="d" * 64)


async def command(server: RedisServer, *args: str | bytes) -> object:
    """One command on a client of its own (an operator's, not the channel's)."""
    admin = aioredis.from_url(server.url)
    try:
        return await admin.execute_command(*args)
    finally:
        await admin.aclose()


def unique_name() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:events"


@pytest.fixture
async def own_server(
    redis_server_factory: Callable[..., RedisServer],
) -> AsyncIterator[RedisServer]:
    yield redis_server_factory()


@pytest.fixture
async def pair(own_server: RedisServer) -> AsyncIterator[tuple[RedisEventChannel, ...]]:
    name = unique_name()
    channels = redis_channel(own_server.url, name), redis_channel(own_server.url, name)
    await started(*channels)
    yield channels
    for channel in channels:
        await channel.close()


async def test_a_restarted_server_is_a_loss_then_a_resubscription(
    own_server: RedisServer, pair: tuple[RedisEventChannel, ...]
) -> None:
    sender, receiver = pair
    heard = Heard().attach(receiver)
    await own_server.astop()
    await until(lambda: not receiver.connected, what="the loss seen")
    assert heard.losses == 1
    with pytest.raises(StoreUnavailable):
        await sender.publish(ENDED)
    await own_server.astart()
    await until(lambda: receiver.connected and sender.connected, what="subscribed again")
    assert heard.losses == 2  # and again on resubscribing: reads meanwhile are suspect
    await sender.publish(LATER)
    await until(lambda: heard.events == [LATER])


async def test_a_connection_redis_kills_is_a_loss_though_redis_py_reconnects_it(
    own_server: RedisServer, pair: tuple[RedisEventChannel, ...]
) -> None:
    sender, receiver = pair
    heard = Heard().attach(receiver)
    assert await command(own_server, "CLIENT", "KILL", "TYPE", "pubsub") == 2
    await until(lambda: heard.losses >= 1, what="the loss seen")
    await until(lambda: receiver.connected, what="subscribed again")
    await sender.publish(LATER)
    await until(lambda: heard.events == [LATER])


async def test_a_server_that_stops_answering_is_a_loss(
    own_server: RedisServer, pair: tuple[RedisEventChannel, ...]
) -> None:
    _, receiver = pair
    heard = Heard().attach(receiver)
    await command(own_server, "CLIENT", "PAUSE", "6000", "ALL")
    try:
        took = await until(lambda: not receiver.connected, timeout=8, what="the loss seen")
        # No PING answered: seen after PING_EVERY of silence plus the socket timeout.
        assert took >= PING_EVERY
        assert heard.losses == 1
    finally:
        await command(own_server, "CLIENT", "UNPAUSE")
    await until(lambda: receiver.connected, what="subscribed again")


async def test_junk_on_the_channel_is_skipped(
    own_server: RedisServer, pair: tuple[RedisEventChannel, ...], caplog: pytest.LogCaptureFixture
) -> None:
    sender, receiver = pair
    heard = Heard().attach(receiver)
    await command(own_server, "PUBLISH", receiver.name, b'{"kind": "no-such-kind"}')
    await sender.publish(ENDED)
    await until(lambda: heard.events == [ENDED])
    assert "skipped a message" in caplog.text
    assert receiver.connected


async def test_a_channel_started_while_redis_is_down_subscribes_when_it_is_up(
    own_server: RedisServer,
) -> None:
    await own_server.astop()
    channel = redis_channel(own_server.url, unique_name())
    try:
        await channel.start()  # returns at once: a store that is down must not block
        await asyncio.sleep(0.3)
        assert not channel.connected
        await own_server.astart()
        await until(lambda: channel.connected, what="subscribed")
        heard = Heard().attach(channel)
        await channel.publish(ENDED)
        await until(lambda: heard.events == [ENDED])
        assert heard.losses == 0  # never subscribed before: nothing was lost
    finally:
        await channel.close()


def cluster_channel(bed: RedisClusterBed, name: str, first_node: int) -> RedisEventChannel:
    client = cluster_client(RedisClusterConfig(nodes=bed.nodes))
    return RedisEventChannel(client, name=name, first_node=first_node)


async def subscribers_by_port(bed: RedisClusterBed, name: str) -> dict[int, int]:
    counts = {}
    for server in bed.servers:
        node = aioredis.Redis(host=server.host, port=server.port)
        try:
            [(_, count)] = await node.pubsub_numsub(name)
        finally:
            await node.aclose()
        counts[server.port] = count
    return counts


async def test_on_a_cluster_subscribers_on_every_node_hear_one_publish(
    redis_cluster: RedisClusterBed,
) -> None:
    name = unique_name()
    channels = [cluster_channel(redis_cluster, name, first_node=i) for i in range(3)]
    try:
        await started(*channels)
        assert set((await subscribers_by_port(redis_cluster, name)).values()) == {1}
        heard = [Heard().attach(channel) for channel in channels]
        await channels[0].publish(ENDED)
        await channels[2].publish(LATER)
        await until(lambda: all(h.events == [ENDED, LATER] for h in heard))
    finally:
        for channel in channels:
            await channel.close()


async def test_on_a_cluster_a_subscriber_whose_node_restarts_comes_back(
    redis_cluster: RedisClusterBed,
) -> None:
    name = unique_name()
    channels = [cluster_channel(redis_cluster, name, first_node=i) for i in range(2)]
    try:
        await started(*channels)
        watched, other = channels
        node = next(s for s in redis_cluster.servers if watched.node == f"{s.host}:{s.port}")
        heard = Heard().attach(watched)
        await node.astop()
        await until(lambda: not watched.connected, what="the loss seen")
        await node.astart()
        await until(lambda: watched.connected, timeout=20, what="subscribed again")
        assert heard.losses == 2
        await until(lambda: other.connected, timeout=20)
        await other.publish(LATER)
        await until(lambda: LATER in heard.events, timeout=10)
    finally:
        for channel in channels:
            await channel.close()


@pytest.mark.timeout(60)
async def test_through_sentinel_the_channel_follows_a_failover(
    redis_sentinel: RedisSentinelBed,
) -> None:
    config = StoreConfig(
        backend="redis",
        sentinel=RedisSentinelConfig(
            nodes=redis_sentinel.sentinel_nodes, service=redis_sentinel.service
        ),
        key_prefix=unique_name().removesuffix("events"),
    )
    sender, receiver = build_channel(config), build_channel(config)
    try:
        await started(sender, receiver)
        heard = Heard().attach(receiver)
        old_master = redis_sentinel.master_address
        redis_sentinel.kill_master()
        await until(lambda: heard.losses >= 1, timeout=10, what="the loss seen")
        new_master = await asyncio.to_thread(redis_sentinel.wait_for_new_master, 20)
        assert new_master != old_master
        await until(lambda: receiver.connected and sender.connected, timeout=20,
                    what="subscribed on the new master")  # fmt: skip
        await sender.publish(LATER)
        await until(lambda: heard.events == [LATER], timeout=5)
    finally:
        await sender.close()
        await receiver.close()
