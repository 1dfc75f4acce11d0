"""The header section's budget (32 KiB) and line cap (100), with the defaults: 431
with a request id and a record (RFC 6585 §5); under both, every header is forwarded
(raw sockets, asserted on what the echo upstream received)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

import pytest

from tests.hardening.rawconn import CLOSED_WITHIN, assert_refusal, connect
from tests.ops.conftest import edit_config
from tests.ops.test_reload import wait_for_log
from tests.proxy.conftest import echo_gateway  # noqa: F401  (fixture)
from tests.proxy.helpers import header_values
from tests.testbed.gateway import Gateway

HEAD = b"GET /h HTTP/1.1\r\nHost: echo.test\r\nAccept: application/json\r\nConnection: close\r\n"


def fields(count: int, size: int, name: str = "X-Pad") -> bytes:
    """`count` header lines of about `size` bytes each."""
    value = b"v" * max(1, size - len(name) - 8)
    return b"".join(f"{name}-{i}: ".encode() + value + b"\r\n" for i in range(count))


OVER: dict[str, bytes] = {
    # the review's probe: about 938 KB of headers (refused at the budget, not parsed)
    "938-kb": fields(100, 9380),
    # 1,000 cookies, one header each (past the line cap) ...
    "1000-cookie-headers": b"".join(b"Cookie: c%d=v\r\n" % i for i in range(1000)),
    # ... and in one header line (past the budget)
    "1000-cookies-one-line": b"Cookie: " + b"; ".join(b"cookie%04d=%s" % (i, b"v" * 30) for i in range(1000)) + b"\r\n",
    "101-small-lines": fields(101, 10),
    "just-over-the-budget": fields(4, 8300),  # 33,200 bytes in four lines
    "one-line-over-the-budget": fields(1, 33 * 1024),
}  # fmt: skip


@pytest.mark.parametrize("case", list(OVER))
async def test_header_section_over_the_limits_gets_431(
    echo_gateway: Callable[..., Gateway], case: str  # noqa: F811
) -> None:
    gateway = echo_gateway()
    conn = await connect(gateway.port)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):  # refused before the end of it
            await conn.send(HEAD + OVER[case] + b"\r\n")

    sender = asyncio.create_task(send())
    answer = await conn.answer(timeout=CLOSED_WITHIN)
    await sender
    conn.close()
    request_id = assert_refusal(answer, 431, "headers-too-large")
    assert answer.headers["connection"] == "close"
    records = gateway.decisions(1)
    assert [(r["request_id"], r["reason"], r["status"]) for r in records] == [
        (request_id, "headers-too-large", 431)
    ]
    assert records[0]["upstream_status"] is None


@pytest.mark.parametrize(
    ("count", "size"), [(80, 300), (30, 1000), (2, 8000)], ids=["80-lines", "30-KB-in-30", "16-KB-in-2"]
)
async def test_header_section_within_the_limits_is_forwarded_whole(
    echo_gateway: Callable[..., Gateway], count: int, size: int  # noqa: F811
) -> None:
    gateway = echo_gateway()
    conn = await connect(gateway.port)
    await conn.send(HEAD + fields(count, size) + b"\r\n")
    answer = await conn.answer()
    conn.close()
    assert answer.status == 200
    echo = answer.json()
    received = [name for name, _ in echo["headers"] if name.startswith("X-Pad-")]
    assert len(received) == count
    assert len(header_values(echo, "X-Pad-0")[0]) == size - len("X-Pad") - 8


async def test_limits_follow_a_reload_for_new_connections(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway(server={"watch_config": False})
    many = HEAD + fields(60, 20) + b"\r\n"

    async def status() -> int:
        conn = await connect(gateway.port)
        await conn.send(many)
        answer = await conn.answer()
        conn.close()
        return answer.status

    assert await status() == 200
    edit_config(gateway, lambda config: config["server"].update(max_headers=50))
    gateway.signal(signal.SIGHUP)
    await wait_for_log(gateway, "config reload (SIGHUP) applied")
    assert await status() == 431
