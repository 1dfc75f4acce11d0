"""TRACE and TRACK are never implied: a route that lists no methods answers them 405
(Cross-Site Tracing, CVE-2004-2320) and the upstream is not contacted; a route that
lists TRACE in `match.methods` forwards it (raw sockets)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.hardening.rawconn import assert_refusal, connect
from tests.proxy.conftest import echo_gateway  # noqa: F401  (fixture)
from tests.testbed.gateway import Gateway


def request(method: str) -> bytes:
    return (
        f"{method} /x HTTP/1.1\r\nHost: echo.test\r\nAccept: application/json\r\n"
        "Cookie: secret=1\r\nConnection: close\r\n\r\n"
    ).encode()


async def test_track_is_not_implemented(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    # llhttp does not know IIS's TRACK: the parser's refusal is the gateway's 501.
    gateway = echo_gateway()
    conn = await connect(gateway.port)
    await conn.send(request("TRACK"))
    answer = await conn.answer()
    conn.close()
    assert_refusal(answer, 501, "method-not-implemented")
    assert gateway.decisions(1)[0]["upstream_status"] is None


async def test_trace_is_not_implied_by_a_route_without_methods(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    method = "TRACE"
    gateway = echo_gateway()
    conn = await connect(gateway.port)
    await conn.send(request(method))
    answer = await conn.answer()
    conn.close()
    assert_refusal(answer, 405, "method-not-allowed")
    allow = {m.strip() for m in answer.headers["allow"].split(",")}
    assert "GET" in allow and method not in allow
    record = gateway.decisions(1)[0]
    assert (record["method"], record["status"], record["upstream_status"]) == (method, 405, None)


async def test_a_route_that_lists_trace_forwards_it(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway(match={"host": "echo.test", "methods": ["GET", "TRACE"]})
    conn = await connect(gateway.port)
    await conn.send(request("TRACE"))
    answer = await conn.answer()
    conn.close()
    assert answer.status == 200
    assert answer.json()["method"] == "TRACE"
