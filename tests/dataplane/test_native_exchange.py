"""The native data plane's own behaviour: the pool, framing, order, and who left first.

A raw-socket upstream answers per path with exact bytes and counts its connections,
so the tests see what a real HTTP client would hide: whether a connection was
reused, whether a HEAD answer's stray bytes desynchronized the next exchange, what
framing the client got. Every gateway here runs `server.data_plane: native`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest

from tests.hardening.rawconn import Answer, Conn, connect, request
from tests.proxy.conftest import public_route
from tests.testbed.gateway import Gateway

ANSWERS = {
    "/ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    # A HEAD answer must end with its head; these 5 bytes belong to no exchange.
    "/head-stray": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY",
    "/eof": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close",
    "/hints": b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/hang": b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000,
}


@dataclass
class KeepAliveUpstream:
    """Answers request after request on each connection, by path; records everything."""

    connections: int = 0
    heads: list[bytes] = field(default_factory=list)
    closed_by_peer: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                path = head.split(b" ")[1].decode().partition("?")[0]
                if path in ANSWERS:
                    writer.write(ANSWERS[path])
                    await writer.drain()
                if path == "/big":  # more than any socket buffer holds: until cut off
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 209715200\r\n\r\n")
                    for _ in range(200):
                        writer.write(b"b" * 1048576)
                        await writer.drain()
                    return
                if path == "/eof":
                    writer.close()
                    return
                if path == "/hang":
                    try:
                        if not await reader.read(1):  # the gateway closed it: the client left
                            self.closed_by_peer.set()
                    except ConnectionResetError:  # ... or aborted it
                        self.closed_by_peer.set()
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[KeepAliveUpstream]:
    keeper = KeepAliveUpstream()
    keeper.server = await asyncio.start_server(keeper.serve, "127.0.0.1", 0)
    yield keeper
    keeper.server.close()
    await keeper.server.wait_closed()
    await asyncio.sleep(0.05)  # let the handlers' closes finish


@pytest.fixture
def native(upstream: KeepAliveUpstream, gateway_factory: Callable[..., Gateway]) -> Callable[..., Gateway]:
    def make(route: dict[str, Any] | None = None, **server: Any) -> Gateway:
        return gateway_factory(
            {"server": {"data_plane": "native", **server},
             "routes": [public_route(upstream.url, **(route or {}))]}
        )

    return make


async def read_answer(conn: Conn, timeout: float = 5.0) -> tuple[Answer, bytes]:
    """One answer of any framing; returns it and the raw body as it came (chunked or not)."""
    head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if ":" in line)
    }
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await conn.reader.readuntil(b"\r\n")).strip(), 16)
            data = await conn.reader.readexactly(size + 2)
            body += data[:-2]
            if size == 0:
                break
        return Answer(status, headers, body), body
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(conn.reader.readexactly(length), timeout) if length else b""
    return Answer(status, headers, body), body


async def test_upstream_connections_are_reused_across_requests_and_clients(
    native: Callable[..., Gateway], upstream: KeepAliveUpstream
) -> None:
    gateway = native()
    for _ in range(3):
        conn = await connect(gateway.port)
        for _ in range(3):
            await conn.send(request("/ok", close=False))
            answer, _ = await read_answer(conn)
            assert (answer.status, answer.body) == (200, b"ok")
        conn.close()
    assert len(upstream.heads) == 9
    assert upstream.connections == 1  # one keep-alive connection carried all nine


async def test_a_close_delimited_answer_is_rechunked_for_an_http11_client(
    native: Callable[..., Gateway], upstream: KeepAliveUpstream
) -> None:
    gateway = native()
    conn = await connect(gateway.port)
    await conn.send(request("/eof", close=False))
    answer, _ = await read_answer(conn)
    assert answer.status == 200
    assert answer.headers["transfer-encoding"] == "chunked"
    assert answer.body == b"until-close"
    # The client's connection outlives the upstream's close.
    await conn.send(request("/ok", close=False))
    second, _ = await read_answer(conn)
    assert (second.status, second.body) == (200, b"ok")
    conn.close()


async def test_stray_bytes_after_a_head_answer_do_not_reach_the_next_exchange(
    native: Callable[..., Gateway], upstream: KeepAliveUpstream
) -> None:
    gateway = native()
    conn = await connect(gateway.port)
    await conn.send(request("/head-stray", method="HEAD", close=False))
    head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 5" in head
    await conn.send(request("/ok", close=False))
    answer, _ = await read_answer(conn)  # not "STRAY" parsed as a response
    assert (answer.status, answer.body) == (200, b"ok")
    assert upstream.connections == 2  # the out-of-step connection was not reused
    conn.close()


async def test_interim_answers_are_not_relayed(native: Callable[..., Gateway]) -> None:
    gateway = native()
    conn = await connect(gateway.port)
    await conn.send(request("/hints"))
    answer, _ = await read_answer(conn)
    assert (answer.status, answer.body) == (200, b"ok")
    assert "link" not in answer.headers
    conn.close()


async def test_pipelined_requests_are_answered_in_order_across_a_hand_over(
    native: Callable[..., Gateway], upstream: KeepAliveUpstream
) -> None:
    gateway = native()
    conn = await connect(gateway.port)
    # The middle one is the gateway's own endpoint (aiohttp's): the connection is
    # handed over after the first answer, and the third is served there.
    await conn.send(
        request("/ok?first", close=False)
        + request("/.authgate/logout", close=False).replace(b"application/json", b"text/html")
        + request("/ok?third", close=False)
    )
    first, _ = await read_answer(conn)
    second, _ = await read_answer(conn)
    third, _ = await read_answer(conn)
    assert (first.status, first.body) == (200, b"ok")
    assert second.status == 200 and second.headers["content-type"].startswith("text/html")
    assert (third.status, third.body) == (200, b"ok")
    targets = [head.split(b" ")[1] for head in upstream.heads]
    assert targets == [b"/ok?first", b"/ok?third"]
    conn.close()
    records = gateway.decisions(3)
    assert sorted(record["status"] for record in records) == [200, 200, 200]


async def test_a_client_that_leaves_mid_answer_is_499_and_the_upstream_is_cut(
    native: Callable[..., Gateway], upstream: KeepAliveUpstream
) -> None:
    gateway = native()
    conn = await connect(gateway.port)
    await conn.send(request("/hang", close=False))
    await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    conn.writer.transport.abort()
    conn.close()
    await asyncio.wait_for(upstream.closed_by_peer.wait(), 5)  # never pooled
    record = gateway.decisions(1)[0]
    assert (record["status"], record["upstream_status"]) == (499, 200)


async def test_an_http10_client_gets_a_close_delimited_answer(native: Callable[..., Gateway]) -> None:
    gateway = native()
    conn = await connect(gateway.port)
    await conn.send(b"GET /eof HTTP/1.0\r\nHost: echo.test\r\n\r\n")
    received = b""
    while chunk := await asyncio.wait_for(conn.reader.read(65536), 5):
        received += chunk
    conn.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" not in head.lower()
    assert body == b"until-close"


async def test_a_client_that_stops_reading_is_cut_after_the_read_timeout(
    native: Callable[..., Gateway],
) -> None:
    # nginx's send_timeout: the upstream is paused for a client that reads nothing; past
    # the route's read timeout the client is cut (499) — and the wait costs no CPU.
    gateway = native(route={"upstream_timeouts": {"read": "1s"}})
    conn = await connect(gateway.port)
    await conn.send(request("/big", close=False))
    await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    process = psutil.Process(gateway.process.pid)
    cpu_before = sum(process.cpu_times()[:2])
    # Polled without blocking this event loop: the upstream runs on it and must keep
    # sending until the gateway pauses it for the client.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (records := gateway.decisions(0)) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    record = records[0]  # written when the gateway gives up on the client
    cpu_spent = sum(process.cpu_times()[:2]) - cpu_before
    conn.close()
    assert (record["status"], record["upstream_status"]) == (499, 200)
    assert cpu_spent < 0.5, cpu_spent  # a paused relay waits on its timer, it does not spin


async def test_a_refused_upload_still_being_sent_gets_its_answer_not_a_reset(
    native: Callable[..., Gateway],
) -> None:
    # The body breaks the route's limit early; the client goes on sending for longer
    # than the 2 s quiet-linger. The gateway keeps reading and dropping while data
    # arrives (nginx's lingering_close), so the 413 is read intact afterwards.
    gateway = native(route={"max_body": 1024})
    conn = await connect(gateway.port)
    await conn.send(request("/ok", method="POST", close=False, extra="Transfer-Encoding: chunked\r\n"))
    piece = b"%x\r\n%b\r\n" % (16384, b"u" * 16384)
    loop = asyncio.get_running_loop()
    until = loop.time() + 3.5
    while loop.time() < until:
        await conn.send(piece)
        await asyncio.sleep(0.02)
    answer, _ = await read_answer(conn)
    conn.close()
    assert answer.status == 413
    assert answer.json()["reason"] == "body-too-large"
