"""bench/probe_relay.py relays what it is asked to, so its row in the bench is a relay's cost.

The real probe process (started as the bench starts it, `bench/_servers.start_probe`)
in front of the echo upstream (`tests/testbed/echo.py`), driven over raw sockets so
keep-alive and pipelining are what is on the wire.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import _servers as sv  # noqa: E402

StartProbe = Callable[[str], sv.Server]


@pytest.fixture
def probe_for(tmp_path: Path) -> Iterator[StartProbe]:
    started: list[sv.Server] = []

    def start(upstream: str) -> sv.Server:
        started.append(sv.start_probe(upstream, tmp_path))
        return started[-1]

    yield start
    for server in started:
        server.stop()


async def read_answer(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in head[1:] if line)
    headers = {k.lower(): v for k, v in fields.items()}
    body = await reader.readexactly(int(headers["content-length"]))
    return head[0], headers, body


async def exchange(port: int, raw: bytes, answers: int = 1) -> list[tuple[str, dict[str, str], bytes]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        return [await asyncio.wait_for(read_answer(reader), 10) for _ in range(answers)]
    finally:
        writer.close()


async def test_a_get_reaches_the_upstream_with_its_target_and_end_to_end_headers(
    echo_upstream: TestServer, probe_for: StartProbe
) -> None:
    upstream = f"http://127.0.0.1:{echo_upstream.port}"
    probe = probe_for(upstream)
    raw = (b"GET /a/b?x=1&y=%2F HTTP/1.1\r\nHost: gateway.example\r\nX-Test: kept\r\n"
           b"Keep-Alive: timeout=5\r\nConnection: keep-alive, X-Test\r\n\r\n")
    ((status, headers, body),) = await exchange(probe.port, raw)
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"].startswith("application/json")
    seen = json.loads(body)
    assert seen["method"] == "GET" and seen["raw_target"] == "/a/b?x=1&y=%2F"
    sent = {name.lower(): value for name, value in seen["headers"]}
    assert sent["x-test"] == "kept"
    assert sent["host"] == f"127.0.0.1:{echo_upstream.port}"  # the upstream's, as the bare proxy
    assert "keep-alive" not in sent and "connection" not in sent  # hop-by-hop (RFC 9110 §7.6.1)


async def test_pipelined_requests_are_answered_in_order_on_one_connection(
    echo_upstream: TestServer, probe_for: StartProbe
) -> None:
    probe = probe_for(f"http://127.0.0.1:{echo_upstream.port}")
    raw = b"".join(b"GET /%d HTTP/1.1\r\nHost: g\r\n\r\n" % i for i in range(5))
    answers = await exchange(probe.port, raw, answers=5)
    assert [json.loads(body)["raw_target"] for _, _, body in answers] == [f"/{i}" for i in range(5)]


async def test_the_bench_upstreams_answer_comes_back_byte_for_byte(tmp_path: Path, probe_for: StartProbe) -> None:
    from _apps import BODY

    upstream = sv.start_app("upstream", 1, tmp_path)
    try:
        probe = probe_for(upstream.url)
        direct = await exchange(upstream.port, b"GET /bench HTTP/1.1\r\nHost: u\r\n\r\n")
        relayed = await exchange(probe.port, b"GET /bench HTTP/1.1\r\nHost: g\r\n\r\n" * 3, answers=3)
    finally:
        upstream.stop()
    for status, headers, body in relayed:
        assert (status, body) == (direct[0][0], direct[0][2]) and body == BODY
        assert headers["content-type"] == direct[0][1]["content-type"]


async def test_other_methods_are_refused_and_a_dead_upstream_is_a_502(probe_for: StartProbe) -> None:
    probe = probe_for(f"http://127.0.0.1:{sv.free_port()}")  # nothing listens there
    ((status, _, _),) = await exchange(probe.port, b"GET / HTTP/1.1\r\nHost: g\r\n\r\n")
    assert status == "HTTP/1.1 502 Bad Gateway"
    ((status, headers, _),) = await exchange(
        probe.port, b"POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 1\r\n\r\nx"
    )
    assert status == "HTTP/1.1 501 Not Implemented" and headers["connection"] == "close"
