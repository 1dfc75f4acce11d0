"""An upstream body cut off mid-way is an upstream failure, and the client is cut off too.

A raw-socket upstream sends a status line, headers and less body than its framing
promises (Content-Length larger than what follows; a chunked body without its last
chunk), then closes — or stalls. The client, on a raw socket too, must see a broken
connection, never a complete-looking message; the record must say `upstream-aborted`
(`upstream-timeout` for the stall) and the upstream-error metric must count it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from tests.hardening.scripted_upstream import ScriptedUpstream, scripted_upstream
from tests.proxy.conftest import public_route
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port

__all__ = ["scripted_upstream"]  # the fixture, imported for this module

HEAD_CL = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
HEAD_CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"

TRUNCATED = {
    "length-short": HEAD_CL % 100 + b"only ten b",
    "length-nothing": HEAD_CL % 100,
    "length-large-short": HEAD_CL % (1 << 20) + b"x" * 70_000,
    "chunked-no-last-chunk": HEAD_CHUNKED + b"5\r\nhello\r\n",
    "chunked-mid-chunk": HEAD_CHUNKED + b"5\r\nhello\r\na\r\nhel",
    "chunked-mid-size": HEAD_CHUNKED + b"5\r\nhello\r\n1",
    "chunked-nothing": HEAD_CHUNKED,
}
COMPLETE = {
    "length": HEAD_CL % 5 + b"hello",
    "chunked": HEAD_CHUNKED + b"5\r\nhello\r\n0\r\n\r\n",
}
REQUEST = b"GET /x HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n"


async def read_until_closed(port: int, timeout: float = 10.0) -> tuple[bytes, bool]:
    """Everything the gateway sent, and whether the connection was reset (not FIN)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST)
    await writer.drain()
    data, reset = b"", False
    try:
        while piece := await asyncio.wait_for(reader.read(65536), timeout):
            data += piece
    except ConnectionResetError:
        reset = True
    finally:
        writer.close()
    return data, reset


def looks_complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length:
        return len(body) == int(length.group(1))
    if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        return body.endswith(b"0\r\n\r\n")
    return False  # a close-delimited body can never prove it is complete


async def upstream_errors(admin_port: int, reason: str) -> float:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{admin_port}/metrics") as response:
            text = await response.text()
    pattern = rf'authgate_upstream_errors_total\{{reason="{reason}",route="echo"\}} (\S+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def start_gateway(
    scripted_upstream: Callable[..., Awaitable[ScriptedUpstream]],
    gateway_factory: Callable[..., Gateway],
) -> Callable[..., Awaitable[tuple[Gateway, int]]]:
    async def start(answer: bytes, *, close: bool = True, **route: object) -> tuple[Gateway, int]:
        upstream = await scripted_upstream(answer, close=close)
        admin = free_port("127.0.0.1")
        config = {
            "routes": [public_route(upstream.url, **route)],
            "server": {"admin_listen": f"127.0.0.1:{admin}"},
        }
        return gateway_factory(config), admin

    return start


@pytest.mark.parametrize("answer", TRUNCATED.values(), ids=TRUNCATED.keys())
async def test_a_truncated_body_is_upstream_aborted(
    start_gateway: Callable[..., Awaitable[tuple[Gateway, int]]], answer: bytes
) -> None:
    gateway, admin = await start_gateway(answer)
    data, _ = await read_until_closed(gateway.port)
    assert data.startswith(b"HTTP/1.1 200 ")  # the status line was already on its way
    assert not looks_complete(data), data[:300]
    record = gateway.decisions(1)[-1]
    assert (record["decision"], record["reason"]) == ("error", "upstream-aborted")
    assert (record["status"], record["upstream_status"]) == (502, 200)
    assert await upstream_errors(admin, "upstream-aborted") == 1.0


@pytest.mark.parametrize("answer", COMPLETE.values(), ids=COMPLETE.keys())
async def test_a_complete_body_is_a_clean_answer(
    start_gateway: Callable[..., Awaitable[tuple[Gateway, int]]], answer: bytes
) -> None:
    # The control: the same upstream, closing right after a whole body.
    gateway, admin = await start_gateway(answer)
    data, reset = await read_until_closed(gateway.port)
    assert looks_complete(data) and not reset
    assert data.endswith(b"hello") or data.endswith(b"0\r\n\r\n")
    record = gateway.decisions(1)[-1]
    assert (record["decision"], record["reason"], record["status"]) == ("allow", "route-public", 200)
    assert await upstream_errors(admin, "upstream-aborted") == 0.0


async def test_a_body_that_stalls_is_cut_at_the_read_timeout(
    start_gateway: Callable[..., Awaitable[tuple[Gateway, int]]],
) -> None:
    gateway, admin = await start_gateway(
        HEAD_CL % 100 + b"only ten b", close=False, upstream_timeouts={"read": "1s"}
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    data, _ = await read_until_closed(gateway.port, timeout=15.0)
    assert loop.time() - started < 10.0  # cut at the 1 s read timeout, not held open
    assert data.startswith(b"HTTP/1.1 200 ") and not looks_complete(data)
    record = gateway.decisions(1)[-1]
    assert (record["decision"], record["reason"], record["status"]) == ("error", "upstream-timeout", 502)
    assert await upstream_errors(admin, "upstream-timeout") == 1.0
