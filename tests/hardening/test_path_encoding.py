"""An encoded `#` and non-UTF-8 paths (overlong forms included) are refused end to end.

Raw sockets on both sides: the request line is sent byte for byte, and the upstream is
a plain socket that records every byte it receives, so "the upstream saw nothing" is
checked on the wire, not inferred from a status code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import pytest

from tests.hardening.scripted_upstream import ScriptedUpstream, scripted_upstream
from tests.proxy.conftest import public_route
from tests.proxy.helpers import get, raw_request
from tests.testbed.gateway import Gateway

__all__ = ["scripted_upstream"]  # the fixture, imported for this module

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

REFUSED = [
    "/%23",
    "/a%23b",
    "/admin%23.css",
    "/static/x%23/../admin",
    "/%C0%AE",
    "/%c0%af",
    "/%C0%AE%C0%AE/admin",
    "/static/%C0%AE%C0%AE%C0%AFadmin",
    "/%E0%80%AF",
    "/%E0%80%AE%E0%80%AE/admin",
    "/%F0%80%80%AF",
    "/%F8%80%80%80%AF",
    "/%C1%9C",
    "/%C0%80",
    "/%FF",
    "/%80",
    "/%C3",
    "/%ED%A0%80",
    "/%F4%90%80%80",
    "/caf%E9",
]
# The same bytes, raw on the request line instead of percent-encoded.
RAW_REFUSED = [b"/\xc0\xae\xc0\xae/admin", b"/\xe0\x80\xaf", b"/caf\xe9", b"/\xff"]


@pytest.fixture
async def gateway_and_upstream(
    scripted_upstream: Callable[..., Awaitable[ScriptedUpstream]],
    gateway_factory: Callable[..., Gateway],
) -> tuple[Gateway, ScriptedUpstream]:
    upstream = await scripted_upstream(OK)
    gateway = gateway_factory({"routes": [public_route(upstream.url)]})
    return gateway, upstream


async def test_a_plain_path_reaches_the_upstream(
    gateway_and_upstream: tuple[Gateway, ScriptedUpstream],
) -> None:
    # The control: the same wiring delivers a clean (UTF-8, non-ASCII) path.
    gateway, upstream = gateway_and_upstream
    status, _, _ = await raw_request(gateway.port, get("/caf%C3%A9/%E6%97%A5"))
    assert status == 200
    assert upstream.received and upstream.received[0].startswith(b"GET /caf%C3%A9/%E6%97%A5 ")


@pytest.mark.parametrize("target", REFUSED)
async def test_encoded_fragment_and_invalid_utf8_are_refused(
    gateway_and_upstream: tuple[Gateway, ScriptedUpstream], target: str
) -> None:
    gateway, upstream = gateway_and_upstream
    status, headers, body = await raw_request(gateway.port, get(target))
    assert status == 400
    assert headers["x-request-id"].encode() in body
    record = gateway.decisions(1)[-1]
    assert (record["decision"], record["reason"], record["status"]) == ("deny", "path-invalid", 400)
    assert record["upstream_status"] is None
    assert upstream.connections == 0 and upstream.received == []


@pytest.mark.parametrize("target", RAW_REFUSED)
async def test_raw_non_utf8_bytes_are_refused(
    gateway_and_upstream: tuple[Gateway, ScriptedUpstream], target: bytes
) -> None:
    gateway, upstream = gateway_and_upstream
    request = b"GET " + target + b" HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n"
    status, _, _ = await raw_request(gateway.port, request)
    # aiohttp's parser refuses non-ASCII bytes on the request line before routing;
    # whoever refuses them, the answer is 400 and the upstream gets nothing. (That
    # parser refusal gets its own record with the parser-level refusals of issue 10.)
    assert status == 400
    assert upstream.connections == 0 and upstream.received == []
