"""Forwarding: what the upstream receives, and what the client gets back."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from tests.proxy.helpers import echoed, get, header_values, raw_request
from tests.testbed.gateway import Gateway


async def test_upstream_sees_normalized_path_and_raw_query(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway()
    status, headers, body = await raw_request(gateway.port, get("//a/./b/%7Euser/../c?x=%20y&z"))
    assert status == 200
    echo = echoed(body)
    assert echo["raw_target"] == "/a/b/c?x=%20y&z"
    assert echo["method"] == "GET"
    assert len(headers["x-request-id"]) == 32


async def test_hop_by_hop_and_connection_listed_headers_are_removed(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway()
    extra = (
        "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n"
        "X-Drop-Me: 1\r\nX-Keep-Me: 2\r\nConnection: X-Drop-Me\r\n"
    )
    status, _, body = await raw_request(gateway.port, get("/h", extra=extra))
    assert status == 200
    names = {k.lower() for k, _ in echoed(body)["headers"]}
    for gone in ("keep-alive", "te", "proxy-authorization", "x-drop-me", "upgrade"):
        assert gone not in names
    assert "x-keep-me" in names


async def test_forwarded_headers_from_untrusted_peer_are_replaced(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway()
    spoof = (
        "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n"
        "Forwarded: for=6.6.6.6\r\nX-Request-Id: forged-id\r\n"
    )
    _, headers, body = await raw_request(gateway.port, get("/f", extra=spoof))
    echo = echoed(body)
    assert header_values(echo, "X-Forwarded-For") == ["127.0.0.1"]
    assert header_values(echo, "X-Forwarded-Proto") == ["http"]
    assert header_values(echo, "X-Forwarded-Host") == ["echo.test"]
    assert header_values(echo, "Forwarded") == ["for=127.0.0.1;host=echo.test;proto=http"]
    assert headers["x-request-id"] != "forged-id"
    assert header_values(echo, "X-Request-Id") == [headers["x-request-id"]]
    record = gateway.decisions(1)[0]
    assert record["client_ip"] == "127.0.0.1"


async def test_forwarded_headers_from_trusted_peer_are_extended(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway(server={"trusted_proxies": ["127.0.0.0/8"]})
    chain = (
        "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n"
        "Forwarded: for=203.0.113.9\r\nX-Request-Id: edge-1234\r\n"
    )
    _, headers, body = await raw_request(gateway.port, get("/t", extra=chain))
    echo = echoed(body)
    assert header_values(echo, "X-Forwarded-For") == ["203.0.113.9, 127.0.0.1"]
    assert header_values(echo, "X-Forwarded-Proto") == ["https"]
    assert header_values(echo, "Forwarded") == [
        "for=203.0.113.9, for=127.0.0.1;host=echo.test;proto=https"
    ]
    assert headers["x-request-id"] == "edge-1234"
    assert gateway.decisions(1)[0]["client_ip"] == "203.0.113.9"


@pytest.mark.parametrize(
    ("preserve_host", "expected"), [(False, "upstream"), (True, "echo.test")]
)
async def test_host_header_to_upstream(
    echo_gateway: Callable[..., Gateway], preserve_host: bool, expected: str
) -> None:
    gateway = echo_gateway(preserve_host=preserve_host)
    _, _, body = await raw_request(gateway.port, get("/host"))
    (host,) = header_values(echoed(body), "Host")
    if expected == "upstream":
        assert host.startswith("127.0.0.1:")
    else:
        assert host == expected


async def test_request_body_and_method_pass_through(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway()
    payload = b"x" * 100_000
    async with aiohttp.ClientSession() as client:
        async with client.put(
            f"{gateway.url}/upload", data=payload, headers={"Host": "echo.test"}
        ) as response:
            echo = await response.json()
    assert echo["method"] == "PUT"
    assert echo["body_bytes"] == len(payload)
    assert header_values(echo, "Content-Length") == [str(len(payload))]


async def test_chunked_request_body_streams(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway()

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 10_000

    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{gateway.url}/chunked", data=chunks(), headers={"Host": "echo.test"}
        ) as response:
            echo = await response.json()
    assert echo["body_bytes"] == 100_000


async def test_upstream_status_and_headers_come_back(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway()
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{gateway.url}/__status/418", headers={"Host": "echo.test"}
        ) as response:
            assert response.status == 418
            assert "X-Request-Id" in response.headers
    record = gateway.decisions(1)[0]
    assert record["decision"] == "allow"
    assert record["status"] == 418
    assert record["upstream_status"] == 418
