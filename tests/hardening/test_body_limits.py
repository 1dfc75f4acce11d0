"""Request body limits: 413 before the upstream sees the body (raw sockets).

A counting upstream records each request as it arrives (before reading its body)
and again once its body was read whole, so "the upstream saw none of it" and "the
upstream never got a complete body" are facts the tests can check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.hardening.rawconn import CLOSED_WITHIN, assert_refusal, connect, request
from tests.proxy.conftest import echo_gateway, public_route  # noqa: F401  (fixture)
from tests.proxy.helpers import header_values
from tests.testbed.gateway import Gateway

LIMIT = 1024


@dataclass
class Counting:
    server: TestServer
    arrived: list[str] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")


@pytest.fixture
async def counting_upstream() -> AsyncIterator[Counting]:
    counting: Counting | None = None

    async def handle(request: web.Request) -> web.Response:
        assert counting is not None
        counting.arrived.append(request.path)
        body = await request.read()
        counting.completed.append(len(body))
        return web.json_response({"body_bytes": len(body)})

    app = web.Application(client_max_size=64 << 20)
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    counting = Counting(server)
    yield counting
    await server.close()


@pytest.fixture
def limited_gateway(
    counting_upstream: Counting, gateway_factory: Callable[..., Gateway]
) -> Callable[..., Gateway]:
    def make(server: dict[str, Any] | None = None, **route: Any) -> Gateway:
        config: dict[str, Any] = {"routes": [public_route(counting_upstream.url, **route)]}
        config["server"] = {"max_body": LIMIT, **(server or {})}
        return gateway_factory(config)

    return make


def chunked(total: int, piece: int = 256) -> bytes:
    body = b""
    for start in range(0, total, piece):
        size = min(piece, total - start)
        body += f"{size:x}\r\n".encode() + b"c" * size + b"\r\n"
    return body + b"0\r\n\r\n"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "GET"])
async def test_declared_length_over_the_limit_never_reaches_the_upstream(
    limited_gateway: Callable[..., Gateway], counting_upstream: Counting, method: str
) -> None:
    gateway = limited_gateway()
    conn = await connect(gateway.port)
    # Only the head: a client that waits for an answer before sending (or that the
    # gateway answers before it sends) is refused without a byte of body read.
    await conn.send(request("/big", method, extra=f"Content-Length: {LIMIT + 1}\r\n"))
    answer = await conn.answer(timeout=CLOSED_WITHIN)
    conn.close()
    request_id = assert_refusal(answer, 413, "body-too-large")
    assert answer.headers["connection"] == "close"
    record = gateway.decisions(1)[0]
    assert (record["request_id"], record["route"], record["status"]) == (request_id, "echo", 413)
    assert record["upstream_status"] is None
    assert counting_upstream.arrived == []


@pytest.mark.parametrize("size", [LIMIT + 1, 4 * LIMIT, 200 * LIMIT])
async def test_chunked_body_over_the_limit_is_cut_and_refused(
    limited_gateway: Callable[..., Gateway], counting_upstream: Counting, size: int
) -> None:
    gateway = limited_gateway()
    conn = await connect(gateway.port)
    try:
        await conn.send(request("/stream", "POST", extra="Transfer-Encoding: chunked\r\n"))
        await conn.send(chunked(size))
    except ConnectionError:
        pass  # the gateway may close while the rest is still being sent
    answer = await conn.answer(timeout=CLOSED_WITHIN)
    conn.close()
    assert_refusal(answer, 413, "body-too-large")
    record = gateway.decisions(1)[0]
    assert (record["reason"], record["status"], record["upstream_status"]) == (
        "body-too-large", 413, None,
    )
    # The upstream may have seen the start of the stream; never a complete body.
    assert counting_upstream.completed == []


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_at_the_limit_passes_whole(
    limited_gateway: Callable[..., Gateway], counting_upstream: Counting, framing: str
) -> None:
    gateway = limited_gateway()
    conn = await connect(gateway.port)
    if framing == "chunked":
        await conn.send(request("/ok", "POST", extra="Transfer-Encoding: chunked\r\n") + chunked(LIMIT))
    else:
        await conn.send(request("/ok", "POST", extra=f"Content-Length: {LIMIT}\r\n") + b"d" * LIMIT)
    answer = await conn.answer()
    conn.close()
    assert answer.status == 200
    assert counting_upstream.completed == [LIMIT]


@pytest.mark.parametrize(
    ("route_limit", "size", "status"),
    [(4 * LIMIT, 3 * LIMIT, 200), (LIMIT // 2, LIMIT // 2 + 1, 413), (LIMIT // 2, LIMIT // 2, 200)],
    ids=["route-allows-more", "route-allows-less", "route-exact"],
)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_route_max_body_replaces_the_server_default(
    limited_gateway: Callable[..., Gateway],
    counting_upstream: Counting,
    route_limit: int,
    size: int,
    status: int,
    framing: str,
) -> None:
    gateway = limited_gateway(max_body=route_limit)
    conn = await connect(gateway.port)
    if framing == "chunked":
        data = request("/r", "POST", extra="Transfer-Encoding: chunked\r\n") + chunked(size)
    else:
        data = request("/r", "POST", extra=f"Content-Length: {size}\r\n") + b"e" * size
    try:
        await conn.send(data)
    except ConnectionError:
        pass
    answer = await conn.answer(timeout=CLOSED_WITHIN)
    conn.close()
    assert answer.status == status
    assert counting_upstream.completed == ([size] if status == 200 else [])
    assert gateway.decisions(1)[0]["status"] == status


async def test_expect_continue_is_not_sent_for_a_body_over_the_limit(
    limited_gateway: Callable[..., Gateway], counting_upstream: Counting
) -> None:
    gateway = limited_gateway()
    conn = await connect(gateway.port)
    extra = f"Content-Length: {LIMIT + 1}\r\nExpect: 100-continue\r\n"
    await conn.send(request("/big", "POST", extra=extra))
    answer = await conn.answer(timeout=CLOSED_WITHIN)  # the first answer: no 100 before it
    conn.close()
    assert_refusal(answer, 413, "body-too-large")
    assert counting_upstream.arrived == []


async def test_expect_continue_invites_a_body_within_the_limit(
    limited_gateway: Callable[..., Gateway], counting_upstream: Counting
) -> None:
    gateway = limited_gateway()
    conn = await connect(gateway.port)
    await conn.send(request("/ok", "POST", extra=f"Content-Length: {LIMIT}\r\nExpect: 100-continue\r\n"))
    interim = await conn.answer()
    assert interim.status == 100
    await conn.send(b"f" * LIMIT)
    answer = await conn.answer()
    conn.close()
    assert answer.status == 200 and counting_upstream.completed == [LIMIT]


async def test_other_expectations_are_ignored_with_a_record_not_refused_without_one(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway()
    conn = await connect(gateway.port)
    await conn.send(request("/e", "POST", extra="Content-Length: 2\r\nExpect: teapot\r\n") + b"ok")
    answer = await conn.answer()
    conn.close()
    assert answer.status == 200
    assert header_values(answer.json(), "Expect") == []  # never forwarded
    assert gateway.decisions(1)[0]["status"] == 200


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_refused_client_that_keeps_sending_still_reads_its_413(
    limited_gateway: Callable[..., Gateway], counting_upstream: Counting, framing: str
) -> None:
    # The client writes far more than the limit without waiting. Closing a socket with
    # unread bytes makes the kernel reset it, and a reset can destroy the 413 before
    # the client reads it: the gateway half-closes and drops what still arrives
    # (lingering close, as nginx), so the answer is always read.
    gateway = limited_gateway()
    size = 512 * LIMIT
    if framing == "chunked":
        head = request("/flood", "POST", extra="Transfer-Encoding: chunked\r\n")
        body = chunked(size, piece=8192)
    else:
        head = request("/flood", "POST", extra=f"Content-Length: {size}\r\n")
        body = b"f" * size
    for _ in range(3):
        conn = await connect(gateway.port)
        conn.writer.write(head + body)  # not drained: the kernel sends what it can
        await asyncio.sleep(0.3)  # the gateway answers and closes while bytes arrive
        answer = await conn.answer(timeout=CLOSED_WITHIN)
        conn.close()
        assert_refusal(answer, 413, "body-too-large")
    assert counting_upstream.completed == []
