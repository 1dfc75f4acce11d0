"""Answers the gateway gives itself: 400/401/404 and upstream 502/504 pages."""

from __future__ import annotations

import json
from collections.abc import Callable

import aiohttp
import pytest

from tests.proxy.conftest import public_route
from tests.proxy.helpers import get, raw_request
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
API = {"Accept": "application/json"}


def assert_no_leak(text: str) -> None:
    for marker in ("Traceback", "File \"", "aiohttp", "Error(", "Exception"):
        assert marker not in text


@pytest.fixture
def dead_upstream_gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    port = free_port("127.0.0.1")  # nothing listens there
    return gateway_factory({"routes": [public_route(f"http://127.0.0.1:{port}")]})


@pytest.mark.parametrize("accept", [BROWSER, API], ids=["browser", "api"])
async def test_upstream_refused_gives_502(dead_upstream_gateway: Gateway, accept: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{dead_upstream_gateway.url}/x", headers={"Host": "echo.test", **accept}
        ) as response:
            text = await response.text()
            request_id = response.headers["X-Request-Id"]
            assert response.status == 502
    assert request_id in text
    assert_no_leak(text)
    if accept is BROWSER:
        assert response.content_type == "text/html"
        assert "<h1>Application unreachable</h1>" in text
    else:
        body = json.loads(text)
        assert body == {
            "error": "Application unreachable",
            "status": 502,
            "reason": "upstream-unreachable",
            "request_id": request_id,
        }
    record = dead_upstream_gateway.decisions(1)[0]
    assert (record["decision"], record["reason"], record["status"]) == (
        "error",
        "upstream-unreachable",
        502,
    )
    assert record["request_id"] == request_id


@pytest.mark.parametrize("accept", [BROWSER, API], ids=["browser", "api"])
async def test_upstream_timeout_gives_504(
    echo_gateway: Callable[..., Gateway], accept: dict[str, str]
) -> None:
    gateway = echo_gateway(upstream_timeouts={"read": "300ms"})
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{gateway.url}/__slow?seconds=3", headers={"Host": "echo.test", **accept}
        ) as response:
            text = await response.text()
            assert response.status == 504
            assert response.headers["X-Request-Id"] in text
    assert_no_leak(text)
    assert ("text/html" if accept is BROWSER else "application/json") == response.content_type
    assert gateway.decisions(1)[0]["reason"] == "upstream-timeout"


@pytest.mark.parametrize(
    ("request_bytes", "status", "reason"),
    [
        (get("/x", host="nobody.test"), 404, "host-unknown"),
        (get("/a%2Fb"), 400, "path-invalid"),
        (get("/..;/admin"), 400, "path-invalid"),
        (get("/x", host="bad host!"), 400, "host-invalid"),
        (get("/x?a#b"), 400, "path-invalid"),
        # RFC 9112 §3.2.2: the target's authority, not Host, names the host served.
        (b"GET http://evil.test/ HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n", 404, "host-unknown"),
    ],
    ids=["unknown-host", "encoded-slash", "dot-dot-semicolon", "bad-host", "hash-in-query", "absolute-form-other-host"],
)
async def test_refusals_are_json_with_request_id(
    echo_gateway: Callable[..., Gateway], request_bytes: bytes, status: int, reason: str
) -> None:
    gateway = echo_gateway()
    got_status, headers, body = await raw_request(gateway.port, request_bytes)
    assert got_status == status
    answer = json.loads(body)
    assert answer["reason"] == reason
    assert answer["request_id"] == headers["x-request-id"]
    record = gateway.decisions(1)[0]
    assert (record["decision"], record["reason"], record["status"]) == ("deny", reason, status)
    assert record["route"] is None


async def test_non_public_path_needs_login(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway(public=["/open/**"])
    status, _, body = await raw_request(gateway.port, get("/private"))
    assert status == 401
    assert json.loads(body)["reason"] == "user-unauthenticated"
    status, _, _ = await raw_request(gateway.port, get("/open/page"))
    assert status == 200
    records = gateway.decisions(2)
    assert [r["decision"] for r in records] == ["login", "allow"]
    assert records[1]["rule"] == "routes[echo].public[0]"


async def test_method_not_allowed(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway(match={"host": "echo.test", "methods": ["GET"]})
    request = b"DELETE /x HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n"
    status, headers, body = await raw_request(gateway.port, request)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert json.loads(body)["reason"] == "method-not-allowed"


async def test_two_host_headers_are_refused(echo_gateway: Callable[..., Gateway]) -> None:
    # RFC 9112 §3.2: the parser refuses this before our handler runs; the connection
    # level answers it as the gateway (tests/hardening/test_parser_refusals.py).
    gateway = echo_gateway()
    request = b"GET /x HTTP/1.1\r\nHost: echo.test\r\nHost: other.test\r\nConnection: close\r\n\r\n"
    status, _, body = await raw_request(gateway.port, request)
    assert status == 400
    assert json.loads(body)["reason"] == "host-invalid"


async def test_client_that_leaves_mid_download_is_499_not_a_gateway_error(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway()
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{gateway.url}/__download?bytes={50 * 1024 * 1024}", headers={"Host": "echo.test"}
        ) as response:
            await response.content.read(65536)
            response.close()  # hang up with most of the body unsent
    record = gateway.decisions(1)[0]
    assert (record["decision"], record["status"], record["upstream_status"]) == ("allow", 499, 200)
    assert "Traceback" not in gateway.stderr()
