"""A fixed-rate HTTP/1.1 load client: latency at a set request rate (wrk can't do that).

`measure(host, port, path, rate, seconds, headers, baseline_port)` sends GET requests
at `rate` per second for `seconds` (open loop: the schedule does not wait for answers; a
request whose time has come goes out on an idle keep-alive connection, or on a new
one when all are busy), and returns the latencies in seconds of those sent after a
one-second warm-up, each measured from the moment its bytes were written to the
moment its last response byte arrived (service time; the client's own scheduling
jitter — uvloop's timers tick in milliseconds — is not counted).

It is a bare asyncio Protocol on uvloop (no HTTP library): the client's own cost per
request is a few microseconds, and it is the same for every target, so differences
between targets measured with it are the servers'. Responses must carry a
Content-Length or be chunked without trailers.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import uvloop

WARMUP = 1.0
BASELINE_EVERY = 4  # the paired baseline gets every 4th tick: same seconds, little extra load


class _Connection(asyncio.Protocol):
    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.started = 0.0
        self.record = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.pool.errors += 1 if self.started else 0

    def send(self, request: bytes, record: bool) -> None:
        assert self.transport is not None
        self.record = record
        self.started = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        body = len(self.buffer) - end - 4
        length = -1
        for line in head.split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length >= 0:
            if body < length:
                return
        elif not self.buffer.endswith(b"0\r\n\r\n"):
            return  # chunked: wait for the last chunk
        finished = time.perf_counter()
        status = int(head[9:12])
        self.buffer.clear()
        latency, self.started = finished - self.started, 0.0
        self.pool.done(self, latency, status, self.record)  # may send the next request


class _Pool:
    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.idle: collections.deque[_Connection] = collections.deque()
        self.opening = 0
        self.waiting: collections.deque[bool] = collections.deque()
        self.latencies: list[float] = []
        self.statuses: collections.Counter[int] = collections.Counter()
        self.errors = 0
        self.outstanding = 0
        self.connections = 0

    def fire(self, record: bool) -> None:
        self.outstanding += 1
        while self.idle:
            connection = self.idle.popleft()
            if not connection.lost:
                connection.send(self.request, record)
                return
        self.waiting.append(record)
        if self.opening < len(self.waiting):
            self.opening += 1
            asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self), self.host, self.port
            )
        except OSError:
            self.errors += 1
            return
        finally:
            self.opening -= 1
        self.connections += 1
        self._ready(connection)

    def _ready(self, connection: _Connection) -> None:
        if self.waiting:
            connection.send(self.request, self.waiting.popleft())
        else:
            self.idle.append(connection)

    def done(self, connection: _Connection, latency: float, status: int, record: bool) -> None:
        self.outstanding -= 1
        self.statuses[status] += 1
        if record:
            self.latencies.append(latency)
        self._ready(connection)


def _request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _run(
    host: str,
    port: int,
    path: str,
    rate: float,
    seconds: float,
    headers: dict[str, str],
    baseline_port: int | None,
) -> tuple[_Pool, _Pool | None]:
    pool = _Pool(host, port, _request(host, port, path, headers))
    baseline = None
    if baseline_port is not None:
        baseline = _Pool(host, baseline_port, _request(host, baseline_port, path, {}))
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    start = loop.time()
    record_from = start + WARMUP
    end = record_from + seconds
    due = start
    tick = 0
    while due < end:
        now = loop.time()
        while due <= now and due < end:
            pool.fire(record=due >= record_from)
            if baseline is not None and tick % BASELINE_EVERY == 0:
                baseline.fire(record=due >= record_from)
            due += interval
            tick += 1
        await asyncio.sleep(max(0.0, due - loop.time()))
    deadline = loop.time() + 5.0
    pools = [p for p in (pool, baseline) if p is not None]
    while any(p.outstanding > 0 for p in pools) and loop.time() < deadline:
        await asyncio.sleep(0.01)
    for p in pools:
        for connection in p.idle:
            if connection.transport is not None:
                connection.transport.close()
    return pool, baseline


def measure(
    host: str,
    port: int,
    path: str = "/",
    *,
    rate: float = 1000.0,
    seconds: float = 10.0,
    headers: dict[str, str] | None = None,
    baseline_port: int | None = None,
) -> dict[str, Any]:
    """Latencies (s) of the requests sent after the warm-up, statuses, errors.

    With `baseline_port`, every `BASELINE_EVERY`-th tick also sends one request there
    (without the headers): `baseline_latencies` then come from the same seconds on
    the same machine, so "added latency" does not mix two noisy moments.
    """
    pool, baseline = uvloop.run(
        _run(host, port, path, rate, seconds, headers or {}, baseline_port)
    )
    return {
        "latencies": pool.latencies,
        "statuses": dict(pool.statuses),
        "errors": pool.errors,
        "connections": pool.connections,
        "baseline_latencies": baseline.latencies if baseline is not None else None,
        "rate": rate,
        "seconds": seconds,
    }
