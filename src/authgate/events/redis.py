"""The state-event channel of a Redis store: pub/sub on `<key_prefix>events`.

Contract: the `EventChannel` contract (see `channel.py`) over Redis pub/sub, for one
server (`store.url`), a Sentinel-managed master or a Redis Cluster — the client
`sessions.redis_client.redis_client` builds for the store, a client of its own (the
subscription holds one connection for as long as it lives).

- `publish` is one PUBLISH. In a Cluster a classic PUBLISH is broadcast over the
  cluster bus to every node, replicas included, so a subscriber on any node gets it;
  under Sentinel, PUBLISH is replicated, so a subscriber left on a demoted master
  still gets it. Redis errors are raised as `StoreUnavailable`.
- One subscriber task per channel (per process) holds the SUBSCRIBE. `connected`
  turns True only when Redis has *confirmed* the subscription — from then on every
  PUBLISH reaches this process — and False the moment the connection is in doubt:
  an error, a reconnect (redis-py reconnects and resubscribes by itself inside its
  retries; a gap it rides over silently would lose events, so its reconnect counts
  as a loss here), or no answer to a PING within `PING_EVERY + TIMEOUT` seconds of
  silence (a hung server or a partition that leaves the socket open). Each loss
  calls the `on_lost` listeners, and so does each re-subscription after one.
- Reconnecting is a loop with exponential backoff capped at `RECONNECT_MAX` seconds,
  for as long as the channel is open (a cluster tries its nodes in turn, each of
  which hears every broadcast). It logs the first failure of a run and the recovery,
  not every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisClusterException, RedisError

from authgate.events.channel import Listened
from authgate.events.model import StateEvent, decode
from authgate.sessions.redis_client import TIMEOUT, redis_errors_as
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)

PING_EVERY = 1.0  # seconds of silence before the subscriber asks "still there?"
RECONNECT_MAX = 1.0  # the backoff between attempts grows to this and stays there
_BACKOFF = ExponentialBackoff(cap=RECONNECT_MAX, base=0.05)
_FAILURES = (RedisError, RedisClusterException, OSError, asyncio.TimeoutError)


class _Lost(Exception):
    """The subscription is in doubt (no answer to a PING in time)."""


class RedisEventChannel(Listened):
    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        name: str,
        timeout: float = TIMEOUT,
        owns_client: bool = True,
        first_node: int | None = None,
    ) -> None:
        self._client = client
        self._name = name.encode()
        self._timeout = timeout
        self._owns_client = owns_client
        super().__init__()
        self._connected = False
        self._had_loss = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Where a cluster subscriber starts among the nodes: spread, so the processes
        # of one deployment do not all lose their subscription with one node.
        self._attempt = random.randrange(1 << 16) if first_node is None else first_node - 1
        self.node = ""  # on a cluster: the node ("host:port") subscribed at last
        self._initializing = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._name.decode()

    async def publish(self, event: StateEvent) -> None:
        with redis_errors_as(StoreUnavailable):
            if isinstance(self._client, RedisCluster):
                await self._initialized(self._client)
            await self._client.publish(self._name, event.encode())

    async def _initialized(self, client: RedisCluster) -> None:
        # redis-py 8.1's asyncio cluster client used first by two tasks at once (the
        # subscriber, a publish) can hand one a connection the other is still making
        # (see ratelimit/redis_limiter.py): its slot map is loaded under one lock.
        async with self._initializing:
            await client.initialize()

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name=f"events:{self.name}")

    async def close(self) -> None:
        self._closed = True
        self._lose()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._owns_client:
            await self._client.aclose()

    # -- the subscriber ---------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._closed:
            pubsub = await self._pubsub()
            try:
                await pubsub.subscribe(self._name)
                assert pubsub.connection is not None  # subscribe() connected it
                # Registered after the first connect: only a REconnect calls it.
                pubsub.connection.register_connect_callback(self._reconnected)
                await self._receive(pubsub)
            except _FAILURES + (_Lost,) as error:
                if failures == 0:
                    log.warning("state events: subscription to %s lost: %s", self.name, error)
            except Exception:  # a redis-py bug must not end the subscriber for good
                log.exception("state events: the subscriber of %s failed", self.name)
            finally:
                self._lose()
                await _quietly_closed(pubsub)
            failures += 1
            await asyncio.sleep(_BACKOFF.compute(failures))

    async def _pubsub(self) -> PubSub:
        if not isinstance(self._client, RedisCluster):
            return self._client.pubsub()
        # Any node hears every classic PUBLISH: take them in turn, so a node that is
        # down costs one attempt, not every attempt until the slot map is re-read.
        with contextlib.suppress(*_FAILURES):
            await self._initialized(self._client)
        nodes = self._client.get_nodes()
        self._attempt += 1
        node = nodes[self._attempt % len(nodes)] if nodes else None
        self.node = node.name if node is not None else ""
        return self._client.pubsub(node=node)

    async def _receive(self, pubsub: PubSub) -> None:
        heard = time.monotonic()
        pinged = False
        while not self._closed:
            message = await pubsub.get_message(timeout=PING_EVERY)
            now = time.monotonic()
            if message is not None:
                heard, pinged = now, False
                self._handle(message)
            elif not pinged and now - heard >= PING_EVERY:
                await pubsub.ping()
                pinged = True
            elif pinged and now - heard >= PING_EVERY + self._timeout:
                raise _Lost(f"no answer to a PING in {PING_EVERY + self._timeout:.0f}s")

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe" and message.get("channel") == self._name:
            self._subscribed()
        elif kind == "message" and self._connected:
            try:
                event = decode(message.get("data") or b"")
            except ValueError as error:  # a bad message is skipped, never half acted on
                log.warning("state events: skipped a message on %s: %s", self.name, error)
                return
            self._fanout.deliver(event)

    def _subscribed(self) -> None:
        self._connected = True
        if self._had_loss:
            # What was read while the subscription was down may predate an event
            # this process never got: drop it again now that delivery is back.
            log.info("state events: subscribed to %s again", self.name)
            self._fanout.lost()

    def _reconnected(self, _connection: object) -> None:
        self._lose()  # redis-py resubscribes; _subscribed() on its confirmation

    def _lose(self) -> None:
        if self._connected:
            self._connected = False
            self._had_loss = True
            self._fanout.lost()


async def _quietly_closed(pubsub: PubSub) -> None:
    with contextlib.suppress(*_FAILURES):
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # (untyped in redis-py 8.1)
