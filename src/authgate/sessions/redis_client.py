"""The Redis client for a configured store: one node, a Cluster, or a Sentinel master.

Contract: `redis_client(config)` builds (and does not connect) the asyncio client that
`store:` describes — `url`, `cluster` or `sentinel` — with `decode_responses=False`,
bounded socket timeouts and a bounded retry policy. The caller owns it and closes it
with `aclose()`, which for Sentinel also closes the connections to the sentinels.
Shared by the session store and the rate limiter, so both see Redis the same way.

Retries, by kind (each bounded; past them the caller sees the redis-py error, which
the stores turn into `StoreUnavailable`):

- url: two quick retries (~30 ms) ride over a dropped connection; an outage surfaces
  at once rather than holding requests.
- sentinel: exponential backoff for `FAILOVER_RIDE_THROUGH` seconds on connection
  errors and timeouts. Every reconnect asks the sentinels for the master, so once
  they have promoted a replica the next attempt reaches it — a failover within that
  window only delays callers. An operation returns or fails within that budget plus
  one socket timeout, however redis-py nests its retries (`DeadlineRetry`).
- cluster: the same ride-through for single commands, as a pause between attempts
  that redis-py's async cluster client does not make by itself (`_BackoffCluster`);
  each attempt re-reads the slot map after a connection error, so a promoted replica
  is found. Pipelines keep redis-py's own loop: one retry after 0.25 s.

A retried write may have been applied before its connection broke: the stores'
writes are idempotent (HSET, SADD, PEXPIRE, the Lua scripts) except the one-time
reads and claims (GETDEL, SET NX), which then err on the safe side — a login state
already taken, a key already seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
)
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    RedisClusterException,
    RedisError,
    TimeoutError,
)

from authgate.config.schema_auth import (
    RedisClusterConfig,
    RedisSentinelConfig,
    StoreConfig,
)

T = TypeVar("T")

TIMEOUT = 2.0  # socket connect and read timeout, seconds
FAILOVER_RIDE_THROUGH = 5.0  # seconds of backoff before a failover is reported
# 0.1, 0.2, 0.4, 0.5, 0.5, ... seconds: early attempts catch a quick reconnect, the
# later ones poll at 2 Hz until a failover (a few seconds) has finished.
_BACKOFF = ExponentialBackoff(cap=0.5, base=0.05)
_ATTEMPTS_MAX = 50  # a backstop only: the deadline ends the retries first


def _quick_retry() -> Retry:
    return Retry(ExponentialBackoff(cap=0.1, base=0.01), retries=2)


class DeadlineRetry(Retry):
    """Retry with backoff until `budget` seconds have passed since the first attempt.

    redis-py nests retries on one connection: a command is retried, and each attempt
    may reconnect, which is retried again (for Sentinel: ask the sentinels, then
    connect). With a plain `Retry` the two counts multiply — a failover that never
    completes would hold a request for a minute. Here a nested call shares the
    deadline of the outermost one, so an operation ends within `budget` plus one
    socket timeout. Safe because a connection (and its copy of this object) serves one
    task at a time.
    """

    def __init__(self, backoff: ExponentialBackoff, budget: float) -> None:
        super().__init__(backoff, retries=_ATTEMPTS_MAX)
        self._budget = budget
        self._deadline: float | None = None

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        outermost = self._deadline is None
        deadline = self._deadline or time.monotonic() + self._budget
        self._deadline = deadline
        try:
            return await self._attempts(do, fail, is_retryable, with_failure_count, deadline)
        finally:
            if outermost:
                self._deadline = None

    async def _attempts(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None,
        with_failure_count: bool,
        deadline: float,
    ) -> T:
        failures = 0
        while True:
            try:
                return await do()
            except self._supported_errors as error:
                if is_retryable is not None and not is_retryable(error):
                    raise
                failures += 1
                await (fail(error, failures) if with_failure_count else fail(error))
                delay = self._backoff.compute(failures)
                if failures > self._retries or time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)


def redis_client(config: StoreConfig, *, timeout: float = TIMEOUT) -> Redis | RedisCluster:
    """The client for `config` (backend redis). No I/O here: it connects on first use."""
    if config.cluster is not None:
        return cluster_client(config.cluster, timeout=timeout)
    if config.sentinel is not None:
        return sentinel_client(config.sentinel, timeout=timeout)
    if config.url is None:
        raise ValueError("store: give url, cluster or sentinel for a redis store")
    return url_client(config.url, timeout=timeout)


# Connections per client and process: above the default in-flight cap per upstream
# (limits.max_inflight_per_upstream: 256), so the pool is rarely the bottleneck.
POOL_SIZE = 512


def url_client(url: str, *, timeout: float = TIMEOUT) -> Redis:
    """One Redis server (or a proxy in front of several) by URL.

    The pool WAITS up to `timeout` for a free connection under a burst instead of
    raising at its cap (redis-py's default pool raises `MaxConnectionsError`: under
    exactly the load a rate limit is for, limits went unchecked and sessions
    unreadable — docs/performance.md, Findings 3).
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=timeout,
        decode_responses=False,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # A couple of quick retries ride over a dropped connection; an outage must
        # surface fast as StoreUnavailable, not after seconds of backoff.
        retry=_quick_retry(),
        health_check_interval=30,
    )
    client = Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # aclose() closes the pool too, as from_url
    return client


def _address(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")  # validated as host:port by the schema
    return host.strip("[]"), int(port)


class _BackoffCluster(RedisCluster):
    """`RedisCluster` that pauses, with exponential backoff, between command attempts.

    redis-py's async cluster client (checked in 8.1) reads only the retry *count* of
    its `Retry` and retries a command at once: a node that is restarting or failing
    over uses every attempt up within milliseconds. This wraps each command in the
    backoff loop; the client's own single retry stays, to re-read the slot map at once
    after a MOVED or a node that went away. Pipelines keep redis-py's loop (it pauses
    0.25 s between its attempts).
    """

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + FAILOVER_RIDE_THROUGH
        failures = 0
        while True:
            try:
                return await super().execute_command(*args, **kwargs)
            except (ConnectionError, TimeoutError, ClusterDownError):
                failures += 1
                delay = _BACKOFF.compute(failures)
                if time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)


def cluster_client(config: RedisClusterConfig, *, timeout: float = TIMEOUT) -> RedisCluster:
    """A Redis Cluster client that discovers the slot map from any of `config.nodes`."""
    return _BackoffCluster(
        startup_nodes=[ClusterNode(*_address(node)) for node in config.nodes],
        username=config.username,
        password=config.password,
        decode_responses=False,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # Only the count is read (see _BackoffCluster): one immediate retry, after
        # re-reading the slot map; pipelines pause 0.25 s before theirs.
        retry=Retry(NoBackoff(), retries=1),
        # Never READONLY replicas: a replica may lag, and a session just written
        # (or just deleted at logout) must read back as written.
        load_balancing_strategy=None,
    )


class _FollowingConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that asks the sentinels again on every reconnect.

    redis-py (checked in 8.1) reconnects a dropped connection, when the next command is
    sent on it, at its last address: `send_packed_command` goes straight to
    `connect_check_health`, past the Sentinel lookup in `connect()`. After a failover
    that address is the dead master, so every retry would knock on it. Here that path
    goes through `connect()`, which asks the sentinels for the master first.
    """

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if self.is_connected:
            return
        if retry_socket_connect:  # the direct path; connect() comes back without it
            await self.connect()  # type: ignore[no-untyped-call]
            return
        await super().connect_check_health(check_health, retry_socket_connect=False)


class _SentinelMaster(Redis):
    """The master client of a `Sentinel`; closing it closes the sentinel clients too."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def sentinel_client(config: RedisSentinelConfig, *, timeout: float = TIMEOUT) -> Redis:
    """A client of the master Sentinel names for `config.service`, following failovers."""
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # (redis-py 8.1 leaves it untyped)
        _addresses(config.nodes),
        # Sentinels are asked one after another; a dead one costs one short timeout.
        sentinel_kwargs={
            "socket_timeout": min(timeout, 1.0),
            "socket_connect_timeout": min(timeout, 1.0),
            "password": config.sentinel_password,
            "decode_responses": False,
        },
        username=config.username,
        password=config.password,
        db=config.db,
        decode_responses=False,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=DeadlineRetry(_BACKOFF, FAILOVER_RIDE_THROUGH),
        health_check_interval=30,
    )
    master: Redis = sentinel.master_for(
        config.service, redis_class=_SentinelMaster, connection_class=_FollowingConnection
    )
    return master


def _addresses(nodes: Sequence[str]) -> list[tuple[str, int]]:
    return [_address(node) for node in nodes]


def decodes_responses(client: Redis | RedisCluster) -> bool:
    """Whether `client` decodes replies to str (every store here expects bytes)."""
    if isinstance(client, RedisCluster):
        return bool(client.connection_kwargs.get("decode_responses"))
    return bool(client.connection_pool.connection_kwargs.get("decode_responses"))


@contextmanager
def redis_errors_as(error: Callable[[str], Exception]) -> Iterator[None]:
    """Raise every Redis failure as `error(message)` — the caller's own vocabulary
    (`StoreUnavailable` → 503, `LimiterUnavailable` → the route's on_store_error),
    so no redis-py exception type leaks past the store layer."""
    try:
        yield
    # RedisClusterException (no usable slot map, say) is not a RedisError.
    except (RedisError, RedisClusterException, OSError) as exc:
        raise error(f"redis: {type(exc).__name__}: {exc}") from exc
