"""Fixtures of the event-channel tests: `ends`, two views of one channel.

`ends` gives a `Pair` — the channel as two processes sharing one store would see it.
For memory that is one object twice (one process is all the memory store serves);
for Redis, two `RedisEventChannel`s with clients of their own on the session's real
`redis_server`, each test on a channel name of its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from authgate.events import EventChannel, MemoryEventChannel, StateEvent
from authgate.events.redis import RedisEventChannel
from authgate.sessions.redis_client import url_client
from tests.testbed.redis import RedisServer


@dataclass
class Heard:
    """What one listener got: events, and how many times delivery was lost."""

    events: list[StateEvent] = field(default_factory=list)
    losses: int = 0

    def attach(self, channel: EventChannel) -> Heard:
        channel.subscribe(self.events.append)
        channel.on_lost(self.lost)
        return self

    def lost(self) -> None:
        self.losses += 1


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> float:
    """Poll `check` every 5 ms; the seconds it took, or fail after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout}s: {what or check}")
        await asyncio.sleep(0.005)
    return time.monotonic() - started


@dataclass
class Pair:
    one: EventChannel
    two: EventChannel


def redis_channel(url: str, name: str) -> RedisEventChannel:
    return RedisEventChannel(url_client(url), name=name)


async def subscribed(url: str, name: str) -> RedisEventChannel:
    """A Redis channel started and confirmed subscribed (what a gateway process holds)."""
    channel = redis_channel(url, name)
    await started(channel)
    return channel


async def started(*channels: EventChannel) -> None:
    for channel in channels:
        await channel.start()
    await until(lambda: all(c.connected for c in channels), what="subscribed")


@pytest.fixture(params=["memory", "redis"])
async def ends(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    if request.param == "memory":
        memory = MemoryEventChannel()
        pair = Pair(memory, memory)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        name = f"test:{uuid.uuid4().hex[:12]}:events"
        pair = Pair(redis_channel(server.url, name), redis_channel(server.url, name))
    await started(pair.one, pair.two)
    yield pair
    await pair.one.close()
    if pair.two is not pair.one:
        await pair.two.close()
