"""The probe: a minimal HTTP/1.1 relay on uvloop + httptools, the floor the data plane is held to.

    python bench/probe_relay.py --port P --upstream http://127.0.0.1:U [--pool 64]

Bench-only, not the product. It answers the question "what does relaying a GET cost
in Python at all?": uvloop transports, httptools (llhttp) parsers on both sides, and a
pool of keep-alive upstream connections, with nothing else (no auth, no limits, no
log, no timeouts). `bench/http_bench.py` starts it as the `probe` row, as it starts the
bare aiohttp proxy, and checks it answers what the upstream answers.

Contract: GET only (anything else: 501 and close, since a HEAD answer has no body
and this parser would wait for one). The request goes upstream with the client's
end-to-end headers (hop-by-hop ones and Host dropped, RFC 9110 §7.6.1), the response
comes back whole (small bodies: it is buffered) with its own Content-Length. Requests
pipelined on one client connection are answered in order (RFC 9112 §9.3.2).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

import httptools
import uvloop

HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
     b"transfer-encoding", b"upgrade", b"host", b"content-length"}
)
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
Headers = list[tuple[bytes, bytes]]
Answer = Callable[[int, bytes, Headers, bytes], None]


def end_to_end(headers: Headers) -> bytes:
    """The header lines to pass on (Content-Length is re-set by whoever sends the body)."""
    return b"".join(n + b": " + v + b"\r\n" for n, v in headers if n.lower() not in HOP_BY_HOP)


class Upstream(asyncio.Protocol):
    """One keep-alive connection to the upstream; one request on it at a time."""

    transport: asyncio.Transport  # set by connection_made, before the pool hands it out

    def __init__(self, pool: Pool) -> None:
        self.pool, self.parser = pool, httptools.HttpResponseParser(self)
        self.answer: Answer | None = None
        self.reason, self.headers, self.body = b"", cast(Headers, []), cast(list[bytes], [])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self, request: bytes, answer: Answer) -> None:
        self.answer, self.headers, self.body = answer, [], []
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()  # connection_lost answers 502

    def on_status(self, reason: bytes) -> None:
        self.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        answer, self.answer = self.answer, None
        keep = self.parser.should_keep_alive()
        if keep:
            self.pool.release(self)
        else:
            self.transport.close()
        if answer is not None:
            answer(self.parser.get_status_code(), self.reason, self.headers, b"".join(self.body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.discard(self)
        answer, self.answer = self.answer, None
        if answer is not None:
            answer(502, b"Bad Gateway", [], b"")


class Pool:
    """Idle keep-alive upstream connections, at most `size` kept; new ones made on demand."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.idle: list[Upstream] = []
        self.connecting: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak refs

    def request(self, request: bytes, answer: Answer) -> None:
        if self.idle:
            self.idle.pop().send(request, answer)
        else:
            task = asyncio.ensure_future(self._connect(request, answer))
            self.connecting.add(task)
            task.add_done_callback(self.connecting.discard)

    async def _connect(self, request: bytes, answer: Answer) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(lambda: Upstream(self), self.host, self.port)
        except OSError:
            answer(502, b"Bad Gateway", [], b"")
            return
        upstream.send(request, answer)

    def release(self, upstream: Upstream) -> None:
        if len(self.idle) < self.size:
            self.idle.append(upstream)
        else:
            upstream.transport.close()

    def discard(self, upstream: Upstream) -> None:
        if upstream in self.idle:
            self.idle.remove(upstream)


class Client(asyncio.Protocol):
    """One client connection: parse requests, relay them in order, write the answers."""

    transport: asyncio.Transport  # set by connection_made, before any data arrives

    def __init__(self, pool: Pool, authority: bytes) -> None:
        self.pool, self.authority = pool, authority
        self.parser = httptools.HttpRequestParser(self)
        self.queue: collections.deque[tuple[bytes, bool]] = collections.deque()
        self.busy, self.keep = False, True
        self.url, self.headers = b"", cast(Headers, [])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:  # also an Upgrade: not relayed
            self.transport.write(BAD_REQUEST)
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers = b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url  # llhttp may hand the target over in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        if self.parser.get_method() != b"GET":
            self.queue.append((b"", False))
        else:
            head = b"GET " + self.url + b" HTTP/1.1\r\nhost: " + self.authority + b"\r\n"
            self.queue.append((head + end_to_end(self.headers) + b"\r\n", self.parser.should_keep_alive()))
        if not self.busy:
            self._next()

    def _next(self) -> None:
        self.busy = bool(self.queue)
        if self.busy:
            request, self.keep = self.queue.popleft()
            if request:
                self.pool.request(request, self._answer)
            else:
                self._answer(501, b"Not Implemented", [], b"")

    def _answer(self, status: int, reason: bytes, headers: Headers, body: bytes) -> None:
        transport = self.transport
        if transport.is_closing():  # the client left while the upstream answered
            return
        close = b"" if self.keep else b"connection: close\r\n"
        transport.write(b"HTTP/1.1 %d %s\r\n%scontent-length: %d\r\n%s\r\n%s" % (
            status, reason, end_to_end(headers), len(body), close, body))
        if self.keep:
            self._next()
        else:
            transport.close()


async def serve(host: str, port: int, upstream: str, pool_size: int) -> None:
    target = urlsplit(upstream)
    if target.hostname is None or target.port is None:
        raise SystemExit(f"--upstream needs http://host:port, not {upstream!r}")
    pool = Pool(target.hostname, target.port, pool_size)
    authority = target.netloc.encode()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Client(pool, authority), host, port,
                                      reuse_port=True, backlog=1024)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://host:port")
    parser.add_argument("--pool", type=int, default=64, help="idle upstream connections kept (64)")
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port, args.upstream, args.pool))


if __name__ == "__main__":
    main()
