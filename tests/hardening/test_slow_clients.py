"""Slow clients: slowloris heads, idle connections, slow and stalled bodies (raw sockets).

The gateway runs with 1 s timeouts; every assertion on time is "closed within 6 s".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
import pytest

from tests.hardening.rawconn import CLOSED_WITHIN, Conn, assert_refusal, connect, request
from tests.proxy.conftest import echo_gateway  # noqa: F401  (fixture)
from tests.testbed.gateway import Gateway

SHORT = {
    "timeouts": {
        "header_read": "1s",
        "idle": "1s",
        "body_read": "1s",
        "body_min_rate": 100,
        "body_grace": "1s",
    }
}
NO_RATE = {"timeouts": {**SHORT["timeouts"], "body_min_rate": 0}}


async def trickle(conn: Conn, pieces: list[bytes], every: float = 0.2) -> None:
    """Send `pieces` one at a time, `every` seconds apart, until the gateway closes."""
    with contextlib.suppress(ConnectionError, OSError):
        for piece in pieces:
            await conn.send(piece)
            await asyncio.sleep(every)


def header_bytes(count: int) -> list[bytes]:
    return [b"X" for _ in range(count)]


SLOW_HEADS: dict[str, list[bytes]] = {
    # the request line itself, one byte at a time
    "request-line": [bytes([c]) for c in b"GET /slow HTTP/1.1\r\nHost: echo.test\r\n"],
    # a complete line and Host, then a header that never ends (the classic slowloris)
    "header-field": [b"GET /slow HTTP/1.1\r\nHost: echo.test\r\nX-a: ", *header_bytes(200)],
    # headers complete but for the blank line, then one header line every tick
    "header-lines": [b"GET /slow HTTP/1.1\r\nHost: echo.test\r\n", *[b"X-k: v\r\n"] * 200],
}


@pytest.mark.parametrize("style", list(SLOW_HEADS))
async def test_slowloris_heads_get_408_and_are_closed(
    echo_gateway: Callable[..., Gateway], style: str  # noqa: F811
) -> None:
    gateway = echo_gateway(server=SHORT)
    first, *rest = SLOW_HEADS[style]
    conns = [await connect(gateway.port) for _ in range(10)]
    for conn in conns:
        await conn.send(first)
    senders = [asyncio.create_task(trickle(conn, rest + header_bytes(200))) for conn in conns]
    try:
        answers = await asyncio.gather(*(conn.answer(timeout=CLOSED_WITHIN) for conn in conns))
        ids = {assert_refusal(answer, 408, "header-timeout") for answer in answers}
        for answer in answers:
            assert answer.headers["connection"] == "close"
        for conn in conns:
            elapsed, tail = await conn.closed_after()
            assert tail == b"" and elapsed < CLOSED_WITHIN
    finally:
        for task in senders:
            task.cancel()
        for conn in conns:
            conn.close()
    records = gateway.decisions(10)
    assert len(records) == 10
    assert {(r["reason"], r["status"], r["decision"]) for r in records} == {
        ("header-timeout", 408, "deny")
    }
    assert {r["request_id"] for r in records} == ids
    if style != "request-line":  # the line was complete: the record names the request
        assert {(r["method"], r["path"]) for r in records} == {("GET", "/slow")}


async def test_twenty_slow_connections_do_not_delay_a_normal_request(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway(server=SHORT)
    slow = [await connect(gateway.port) for _ in range(20)]
    senders = [
        asyncio.create_task(trickle(conn, [b"GET /slow HTTP/1.1\r\n", *header_bytes(100)]))
        for conn in slow
    ]
    normal = await connect(gateway.port)
    try:
        await normal.send(request("/normal"))
        answer = await normal.answer()
        assert answer.status == 200 and answer.json()["raw_target"] == "/normal"
        closed = await asyncio.gather(*(conn.closed_after() for conn in slow))
        assert all(elapsed < CLOSED_WITHIN for elapsed, _ in closed)
    finally:
        normal.close()
        for task in senders:
            task.cancel()
        for conn in slow:
            conn.close()


@pytest.mark.parametrize("after_a_request", [False, True], ids=["new", "keep-alive"])
async def test_idle_connection_is_closed_without_answer(
    echo_gateway: Callable[..., Gateway], after_a_request: bool  # noqa: F811
) -> None:
    gateway = echo_gateway(server=SHORT)
    conn = await connect(gateway.port)
    if after_a_request:
        await conn.send(request("/once", close=False))
        assert (await conn.answer()).status == 200
    elapsed, rest = await conn.closed_after()
    conn.close()
    assert rest == b"" and elapsed < CLOSED_WITHIN
    await asyncio.sleep(0.3)
    records = gateway.decisions(0, timeout=0.2)
    assert [r["path"] for r in records] == (["/once"] if after_a_request else [])


async def test_keep_alive_requests_within_the_idle_timeout_keep_the_connection(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway(server={"timeouts": {**SHORT["timeouts"], "idle": "2s"}})
    conn = await connect(gateway.port)
    try:
        for index in range(4):  # 4 x 0.5 s: longer than the idle timeout in total
            await conn.send(request(f"/{index}", close=False))
            answer = await conn.answer()
            assert answer.status == 200 and answer.json()["raw_target"] == f"/{index}"
            await asyncio.sleep(0.5)
    finally:
        conn.close()


def slow_body(framing: str) -> tuple[bytes, list[bytes]]:
    if framing == "content-length":
        head = request("/upload", "POST", extra="Content-Length: 1000\r\n")
        return head, [b"a"] * 1000
    head = request("/upload", "POST", extra="Transfer-Encoding: chunked\r\n")
    return head, [b"1\r\na\r\n"] * 1000


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_below_the_minimum_rate_gets_408(
    echo_gateway: Callable[..., Gateway], framing: str  # noqa: F811
) -> None:
    # One byte every 0.2 s never pauses for a second (the stall timer), but 5 B/s is
    # far below the 100 B/s floor (slow POST, "R-U-Dead-Yet").
    gateway = echo_gateway(server=SHORT)
    conn = await connect(gateway.port)
    head, pieces = slow_body(framing)
    await conn.send(head)
    sender = asyncio.create_task(trickle(conn, pieces))
    try:
        answer = await conn.answer(timeout=CLOSED_WITHIN)
        request_id = assert_refusal(answer, 408, "body-too-slow")
        elapsed, _ = await conn.closed_after()
        assert elapsed < CLOSED_WITHIN
    finally:
        sender.cancel()
        conn.close()
    record = gateway.decisions(1)[0]
    assert (record["request_id"], record["route"], record["status"]) == (request_id, "echo", 408)
    assert record["upstream_status"] is None


BODY_STALLS: dict[str, tuple[str, bytes]] = {
    # A GET that declares a body it never sends must not hold a connection for minutes.
    "get-declares-body": ("GET", b""),
    "post-stops-halfway": ("POST", b"12345"),
}


@pytest.mark.parametrize("case", list(BODY_STALLS))
async def test_body_that_stops_arriving_gets_408(
    echo_gateway: Callable[..., Gateway], case: str  # noqa: F811
) -> None:
    gateway = echo_gateway(server=NO_RATE)
    method, sent = BODY_STALLS[case]
    conn = await connect(gateway.port)
    await conn.send(request("/stall", method, extra="Content-Length: 10\r\n") + sent)
    try:
        answer = await conn.answer(timeout=CLOSED_WITHIN)
        assert_refusal(answer, 408, "body-timeout")
        elapsed, _ = await conn.closed_after()
        assert elapsed < CLOSED_WITHIN
    finally:
        conn.close()
    record = gateway.decisions(1)[0]
    assert (record["reason"], record["method"], record["path"]) == ("body-timeout", method, "/stall")


async def test_upload_above_the_rate_passes_whole(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway(server=SHORT)
    size = 20 * 2048
    conn = await connect(gateway.port)
    await conn.send(request("/upload", "POST", extra=f"Content-Length: {size}\r\n"))
    for _ in range(20):  # about 2 s at 10 KB/s: longer than every timeout, faster than the floor
        await conn.send(b"b" * 2048)
        await asyncio.sleep(0.1)
    answer = await conn.answer()
    conn.close()
    assert answer.status == 200
    assert answer.json()["body_bytes"] == size
