"""Keep-alive connections to upstreams, per (scheme, host, port).

Contract: `UpstreamPool.acquire(key, timeout)` returns a connected
`UpstreamConnection` — an idle one (most recently used first) or a new one — and
raises `asyncio.TimeoutError` or `OSError` (the caller maps them to 504/502). At most
`per_host` connections per key are open at once (0: no limit) and at most `total`
overall; past the limit a caller waits for one within its timeout. `release(conn,
reusable)` returns a connection after its exchange: it is kept only when the exchange
completed cleanly (the response ended as its framing said, the request was sent
whole, neither side asked to close) — a connection whose exchange did not complete
may still carry bytes of it, and the next request's response would be read from them
(response desynchronization). Idle connections expire after `keepalive` seconds; an
idle connection that receives data or closes is dropped.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import NamedTuple, Protocol

KEEPALIVE_SECONDS = 30.0  # as the aiohttp connector the aiohttp front end uses


class PoolKey(NamedTuple):
    scheme: str
    host: str  # as configured; an IPv6 literal without brackets
    port: int


class UpstreamSink(Protocol):
    """What an exchange receives from its upstream connection."""

    def upstream_data(self, data: bytes) -> None: ...

    def upstream_lost(self, exc: BaseException | None) -> None: ...

    def upstream_paused(self) -> None: ...

    def upstream_resumed(self) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    __slots__ = ("pool", "key", "transport", "sink", "idle_since", "closed", "reused")

    def __init__(self, pool: UpstreamPool, key: PoolKey) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.sink: UpstreamSink | None = None
        self.idle_since = 0.0
        self.closed = False
        self.reused = False  # served an exchange before this one

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        if sink is None:
            # Bytes on an idle connection belong to no request: the connection is out
            # of step with its upstream and must not carry another exchange.
            self.close()
            return
        sink.upstream_data(data)

    def eof_received(self) -> bool:
        return False  # close: HTTP/1.1 has no use for a half-closed upstream

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        sink, self.sink = self.sink, None
        self.pool.forget(self)
        if sink is not None:
            sink.upstream_lost(exc)

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_paused()

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_resumed()

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not self.closed:
            transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()


class UpstreamPool:
    def __init__(self, *, per_host: int, total: int, keepalive: float = KEEPALIVE_SECONDS) -> None:
        self._per_host = per_host
        self._total = total
        self._keepalive = keepalive
        self._idle: dict[PoolKey, list[UpstreamConnection]] = {}
        self._open: dict[PoolKey, int] = {}
        self._open_total = 0
        self._waiters: dict[PoolKey, deque[asyncio.Future[UpstreamConnection | None]]] = {}
        self._members: set[UpstreamConnection] = set()
        self._tls: ssl.SSLContext | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def idle_count(self) -> int:
        return sum(len(conns) for conns in self._idle.values())

    async def acquire(self, key: PoolKey, timeout: float) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        now = loop.time()
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive:
                conn.reused = True
                return conn
            conn.close()
        async with asyncio.timeout(timeout):
            while not self._room(key):
                waiter: asyncio.Future[UpstreamConnection | None] = loop.create_future()
                self._waiters.setdefault(key, deque()).append(waiter)
                try:
                    handed = await waiter
                finally:
                    queue = self._waiters.get(key)
                    if queue is not None and waiter in queue:
                        queue.remove(waiter)
                if handed is not None:
                    handed.reused = True
                    return handed
            return await self._connect(key, loop)

    def _room(self, key: PoolKey) -> bool:
        if self._total and self._open_total >= self._total:
            return False
        return not self._per_host or self._open.get(key, 0) < self._per_host

    async def _connect(self, key: PoolKey, loop: asyncio.AbstractEventLoop) -> UpstreamConnection:
        self._open[key] = self._open.get(key, 0) + 1
        self._open_total += 1
        conn = UpstreamConnection(self, key)
        self._members.add(conn)
        try:
            tls = self._tls_context() if key.scheme == "https" else None
            await loop.create_connection(
                lambda: conn, key.host, key.port, ssl=tls,
                server_hostname=key.host if tls is not None else None,
            )  # fmt: skip
        except BaseException:
            self.forget(conn)
            raise
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            # The system's trust store, hostname checked: as the aiohttp client's default.
            self._tls = ssl.create_default_context()
        return self._tls

    def release(self, conn: UpstreamConnection, reusable: bool) -> None:
        conn.sink = None
        if conn.closed or conn not in self._members:
            return
        if not reusable or self._closed:
            conn.close()  # forget() runs from connection_lost
            return
        queue = self._waiters.get(conn.key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        self._idle.setdefault(conn.key, []).append(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._keepalive, self._sweep)

    def forget(self, conn: UpstreamConnection) -> None:
        """`conn` closed (or never connected): its slot is free."""
        if conn not in self._members:
            return
        self._members.discard(conn)
        key = conn.key
        self._open[key] -= 1
        self._open_total -= 1
        idle = self._idle.get(key)
        if idle is not None and conn in idle:
            idle.remove(conn)
        queue = self._waiters.get(key)
        while queue:  # a waiter may connect anew now
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _sweep(self) -> None:
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for conns in self._idle.values():
            for conn in [c for c in conns if now - c.idle_since >= self._keepalive]:
                conns.remove(conn)
                conn.close()
        if self.idle_count:
            self._sweeper = loop.call_later(self._keepalive / 2, self._sweep)

    def close(self) -> None:
        """Close every connection; busy ones are aborted by their exchanges' end."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conns in self._idle.values():
            for conn in list(conns):
                conn.close()
        self._idle.clear()
