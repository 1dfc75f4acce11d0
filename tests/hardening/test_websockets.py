"""WebSocket hardening, end to end: handshake, Origin (CSWSH), caps, pool, message size.

Every refusal is checked three ways: the answer (status, request id), the decision
record, and the upstream — which must not have been contacted (`counting_upstream`
lists every request that reached it). Handshakes are raw bytes where the bytes
matter; messages go through aiohttp's client, or raw frames for frame lengths.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hardening.websocket_upstream import CountingUpstream, counting_upstream
from tests.login.test_bearer import rogue_server
from tests.login.test_login_flow import log_in
from tests.oidc.rogue import RogueProvider, mint
from tests.proxy.helpers import raw_request
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET
from tests.testbed.oidc import OIDCProvider

__all__ = ["counting_upstream", "rogue_server"]  # fixtures, imported for pytest

KEY = base64.b64encode(b"0123456789abcdef").decode()
OWN = "http://echo.test"
AUDIENCE = "api://live"
MIB = 1024 * 1024


@pytest.fixture
def ws_gateway(
    counting_upstream: CountingUpstream, gateway_factory: Callable[..., Gateway]
) -> Callable[..., Gateway]:
    """`ws_gateway(websocket={...}, server={...}, limits={...})`: public route `echo`."""

    def make(
        websocket: dict[str, Any] | None = None, route: dict[str, Any] | None = None, **top: Any
    ) -> Gateway:
        echo: dict[str, Any] = {
            "id": "echo",
            "match": {"host": "echo.test"},
            "upstream": counting_upstream.url,
            "public": ["/**"],
            **(route or {}),
        }
        if websocket is not None:
            echo["websocket"] = websocket
        return gateway_factory({"routes": [echo], **top})

    return make


def handshake(
    *,
    host: str = "echo.test",
    origin: str | None = OWN,
    key: str | None = KEY,
    version: str | None = "13",
    connection: str | None = "Upgrade",
    upgrade: str | None = "websocket",
    extra: str = "",
    http: str = "HTTP/1.1",
    path: str = "/__ws",
) -> bytes:
    """A client handshake (RFC 6455 §4.1); None leaves that header out."""
    headers = [
        ("Host", host),
        ("Upgrade", upgrade),
        ("Connection", connection),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", version),
        ("Origin", origin),
        ("Accept", "application/json"),
    ]
    lines = [f"GET {path} {http}"] + [f"{k}: {v}" for k, v in headers if v is not None]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode("latin-1")


def assert_refused(
    gateway: Gateway,
    upstream: CountingUpstream,
    answer: tuple[int, dict[str, str], bytes],
    status: int,
    reason: str,
    case: str = "",
) -> dict[str, Any]:
    """The refusal's answer and record are right, and the upstream saw nothing."""
    code, headers, body = answer
    assert code == status, (case, body)
    request_id = headers["x-request-id"]
    answered = json.loads(body)
    assert (answered["status"], answered["reason"]) == (status, reason), case
    assert answered["request_id"] == request_id, case
    # Closed after the answer: frames may follow an upgrade request (HTTP/1.0: by default).
    assert headers.get("connection", "close") == "close", case
    record = gateway.record(request_id)
    assert record["route"] == "echo", case
    assert (record["status"], record["reason"]) == (status, reason), case
    assert upstream.hits == [], f"{case}: refused before the upstream was contacted"
    return record


# --- 1. the handshake (RFC 6455 §4.2.1), before the upstream ----------------------------

MALFORMED = {
    "no-key": handshake(key=None),
    "key-not-base64": handshake(key="not a base64 key!!!!!!!!"),
    "key-15-bytes": handshake(key=base64.b64encode(b"x" * 15).decode()),
    "key-17-bytes": handshake(key=base64.b64encode(b"x" * 17).decode()),
    "key-with-junk": handshake(key=KEY[:10] + "*" + KEY[10:]),
    "empty-key": handshake(key=""),
    "two-keys": handshake(extra=f"Sec-WebSocket-Key: {KEY}\r\n"),
    "no-connection": handshake(connection=None),
    "connection-keep-alive": handshake(connection="keep-alive"),
    "upgrade-list": handshake(upgrade="websocket, h2c"),
    "http-1.0": handshake(http="HTTP/1.0"),
}
BAD_VERSIONS = {
    "no-version": handshake(version=None),
    "version-8": handshake(version="8"),
    "version-7": handshake(version="7"),
    "version-12": handshake(version="12"),
    "version-14": handshake(version="14"),
    "version-list": handshake(version="13, 8"),
    "two-versions": handshake(extra="Sec-WebSocket-Version: 8\r\n"),
}


async def test_malformed_handshakes_are_400_before_the_upstream(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway()  # one gateway for the whole table: each case is one request
    for case, request_bytes in MALFORMED.items():
        answer = await raw_request(gateway.port, request_bytes)
        assert_refused(gateway, counting_upstream, answer, 400, "websocket-handshake-invalid", case)


async def test_other_versions_are_400_naming_version_13(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway()
    for case, request_bytes in BAD_VERSIONS.items():
        answer = await raw_request(gateway.port, request_bytes)
        reason = "websocket-version-unsupported"
        assert_refused(gateway, counting_upstream, answer, 400, reason, case)
        assert answer[1]["sec-websocket-version"] == "13", case  # RFC 6455 §4.4


async def test_a_valid_raw_handshake_is_relayed(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    """The baseline the tables above change one header of."""
    gateway = ws_gateway()
    status, headers, _ = await raw_request(gateway.port, handshake())
    assert status == 101
    assert headers["sec-websocket-accept"] == "BACScCJPNqyz+UBoqMH89VmURoA="  # §4.2.2 for KEY
    assert counting_upstream.hits == ["/__ws"]


# --- 2. Origin: Cross-Site WebSocket Hijacking --------------------------------------

FOREIGN = {
    "other-site": "http://evil.test",
    "null": "null",
    "other-scheme": "https://echo.test",
    "other-port": "http://echo.test:8080",
    "suffix": "http://echo.test.evil.test",
    "subdomain": "http://sub.echo.test",
    "with-path": "http://evil.test/http://echo.test",
    "trailing-slash": "http://echo.test/",
    "userinfo": "http://echo.test@evil.test",
    "no-scheme": "echo.test",
    "ws-scheme": "ws://echo.test",
    "empty": "",
}


async def test_foreign_origins_are_403(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway()
    for case, origin in FOREIGN.items():
        answer = await raw_request(gateway.port, handshake(origin=origin))
        reason = "websocket-origin-denied"
        record = assert_refused(gateway, counting_upstream, answer, 403, reason, case)
        assert record["decision"] == "deny", case
        assert record["rule"] == "routes[echo].websocket.origins", case


async def test_two_origin_headers_are_403(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway()
    answer = await raw_request(gateway.port, handshake(extra=f"Origin: {OWN}\r\n"))
    assert_refused(gateway, counting_upstream, answer, 403, "websocket-origin-denied")


async def test_missing_origin_is_403_by_default(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway()
    answer = await raw_request(gateway.port, handshake(origin=None))
    assert_refused(gateway, counting_upstream, answer, 403, "websocket-origin-missing")


OWN_ORIGINS = [  # (Host as sent, Origin as sent): the same origin
    ("echo.test", "http://echo.test"),
    ("echo.test", "HTTP://Echo.TEST"),
    ("echo.test", "http://echo.test:80"),
    ("echo.test:8443", "http://echo.test:8443"),
    ("ECHO.test:80", "http://echo.test"),
]


async def test_the_routes_own_origin_is_allowed(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway()
    for count, (host, origin) in enumerate(OWN_ORIGINS, 1):
        status, _, body = await raw_request(gateway.port, handshake(host=host, origin=origin))
        assert status == 101, (host, origin, body)
        assert counting_upstream.hits == ["/__ws"] * count


LISTED = [
    ("https://app.example.com", 101),
    ("https://APP.example.com:443", 101),
    ("http://[::1]:3000", 101),
    ("https://app.example.com:444", 403),
    ("http://app.example.com", 403),
    (OWN, 101),  # the route's own stays allowed
]


async def test_a_route_lists_other_origins(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway({"origins": ["https://app.example.com", "http://[0:0::1]:3000"]})
    for origin, status in LISTED:
        hits = len(counting_upstream.hits)
        code, _, _ = await raw_request(gateway.port, handshake(origin=origin))
        assert code == status, origin
        assert len(counting_upstream.hits) == hits + (status == 101), origin


async def test_allow_missing_origin(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway({"allow_missing_origin": True})
    status, _, _ = await raw_request(gateway.port, handshake(origin=None))
    assert status == 101
    code, _, _ = await raw_request(gateway.port, handshake(origin="http://evil.test"))
    assert code == 403  # a foreign origin is still refused


# --- bearer tokens: no Origin needed, the caps per user ---------------------------------


@pytest.fixture
def bearer_gateway(
    rogue_server: RogueProvider, ws_gateway: Callable[..., Gateway], tmp_path: Path
) -> Callable[..., Gateway]:
    def make(**top: Any) -> Gateway:
        return ws_gateway(
            route={"public": [], "authenticate": ["bearer"], "bearer": {"audiences": [AUDIENCE]}},
            secrets={"cookie_secret": COOKIE_SECRET, "assertion_keys": str(tmp_path / "k.pem")},
            providers=[{"id": "rogue", "issuer": rogue_server.issuer, "client_id": "gateway"}],
            **top,
        )

    return make


def token(rogue_server: RogueProvider, subject: str = "svc-1") -> str:
    now = int(time.time())
    claims = {"iss": rogue_server.issuer, "sub": subject, "aud": AUDIENCE, "iat": now, "exp": now + 300}
    return mint(claims, rogue_server.published[0])


async def test_bearer_needs_no_origin_but_a_foreign_one_is_refused(
    bearer_gateway: Callable[..., Gateway], rogue_server: RogueProvider, counting_upstream: CountingUpstream
) -> None:
    gateway = bearer_gateway()
    auth = f"Authorization: Bearer {token(rogue_server)}\r\n"
    status, _, _ = await raw_request(gateway.port, handshake(origin=None, extra=auth))
    assert status == 101
    code, headers, _ = await raw_request(gateway.port, handshake(origin="http://evil.test", extra=auth))
    assert code == 403
    assert counting_upstream.hits == ["/__ws"]
    record = gateway.record(headers["x-request-id"])
    assert (record["reason"], record["user"]) == ("websocket-origin-denied", "svc-1")


async def test_a_signed_in_session_needs_its_own_origin(
    login_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider
) -> None:
    """The CSWSH case itself: the browser holds a session cookie and sends it anywhere."""
    gateway = login_gateway()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await log_in(client, gateway, "/chat")
        async with client.ws_connect(f"{gateway.url}/__ws", origin=gateway.url) as ws:
            await ws.send_str("signed in")
            assert await ws.receive_str(timeout=6) == "signed in"
        for origin, reason in [("http://evil.test", "denied"), (None, "missing")]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(f"{gateway.url}/__ws", origin=origin)
            assert refused.value.status == 403 and refused.value.headers is not None
            record = gateway.record(refused.value.headers["X-Request-Id"])
            assert (record["reason"], record["user"]) == (f"websocket-origin-{reason}", "alice")


# --- 2. caps ----------------------------------------------------------------------------


@asynccontextmanager
async def connected(
    gateway: Gateway, path: str = "/__ws", headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A WebSocket to `echo.test` from a page of its own origin."""
    async with aiohttp.ClientSession() as client:
        url, sent = f"{gateway.url}{path}", {"Host": "echo.test", **(headers or {})}
        async with client.ws_connect(url, headers=sent, origin=OWN, **options) as ws:
            yield ws


async def assert_closes(ws: aiohttp.ClientWebSocketResponse, code: int, timeout: float = 6) -> None:
    closing = await ws.receive(timeout=timeout)
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, code)


async def open_ws(
    stack: AsyncExitStack, gateway: Gateway, *, headers: dict[str, str] | None = None
) -> aiohttp.ClientWebSocketResponse:
    ws = await stack.enter_async_context(connected(gateway, headers=headers))
    await ws.send_str("ping")
    assert await ws.receive_str(timeout=6) == "ping"
    return ws


async def refused_status(gateway: Gateway, headers: dict[str, str] | None = None) -> int:
    async with AsyncExitStack() as stack:
        try:
            await open_ws(stack, gateway, headers=headers)
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status
    raise AssertionError("the WebSocket was not refused")


def last_record(gateway: Gateway, count: int) -> dict[str, Any]:
    return gateway.decisions(count)[-1]


async def test_per_client_ip_cap(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway(limits={"websockets": {"max_per_client_ip": 2}})
    async with AsyncExitStack() as stack:
        first = await open_ws(stack, gateway)
        await open_ws(stack, gateway)
        assert await refused_status(gateway) == 429
        record = last_record(gateway, 1)
        assert (record["reason"], record["status"]) == ("websocket-limit", 429)
        assert record["rule"] == "limits.websockets.max_per_client_ip"
        assert counting_upstream.hits == ["/__ws", "/__ws"]
        await first.close()
        await counting_upstream.close_code()
        await open_ws(stack, gateway)  # its place was given back


async def test_per_route_cap_is_503(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway({"max_connections": 1})
    async with AsyncExitStack() as stack:
        await open_ws(stack, gateway)
        code, headers, body = await raw_request(gateway.port, handshake())
        assert counting_upstream.hits == ["/__ws"]
    assert (code, json.loads(body)["reason"], headers["retry-after"]) == (503, "websocket-limit", "1")
    record = next(r for r in gateway.decisions(2) if r["status"] == 503)
    assert (record["decision"], record["rule"]) == (
        "rate_limited", "routes[echo].websocket.max_connections"
    )
    assert record["request_id"] == headers["x-request-id"]


async def test_per_user_cap_across_addresses(
    bearer_gateway: Callable[..., Gateway], rogue_server: RogueProvider, counting_upstream: CountingUpstream
) -> None:
    gateway = bearer_gateway(
        server={"trusted_proxies": ["127.0.0.1/32"]},
        limits={"websockets": {"max_per_user": 2}},
    )

    def as_user(subject: str, address: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(rogue_server, subject)}", "X-Forwarded-For": address}

    async with AsyncExitStack() as stack:
        await open_ws(stack, gateway, headers=as_user("alice", "198.51.100.1"))
        await open_ws(stack, gateway, headers=as_user("alice", "198.51.100.2"))
        assert await refused_status(gateway, as_user("alice", "198.51.100.3")) == 429
        record = last_record(gateway, 1)
        assert (record["reason"], record["rule"]) == ("websocket-limit", "limits.websockets.max_per_user")
        assert record["client_ip"] == "198.51.100.3"
        await open_ws(stack, gateway, headers=as_user("bob", "198.51.100.3"))  # others still can
        assert len(counting_upstream.hits) == 3


async def test_websockets_do_not_hold_the_http_pool(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    """More tunnels than `upstream_pool_size_per_host` (and than the in-flight cap of
    load shedding), and a plain request still passes."""
    gateway = ws_gateway(
        server={"upstream_pool_size_per_host": 4, "upstream_pool_size": 4},
        limits={"max_inflight_per_upstream": 4},
    )
    async with AsyncExitStack() as stack:
        sockets = [await open_ws(stack, gateway) for _ in range(6)]
        async with aiohttp.ClientSession() as client:
            request = client.get(f"{gateway.url}/plain", headers={"Host": "echo.test"})
            async with asyncio.timeout(6):  # hung until the tunnels closed, before
                async with request as response:
                    assert response.status == 200
                    assert (await response.json())["raw_target"] == "/plain"
        for ws in sockets:  # and every tunnel still works
            await ws.send_str("still here")
            assert await ws.receive_str(timeout=6) == "still here"


# --- 3. message size: 1009 both ways ----------------------------------------------------

LIMIT = 1000
MESSAGES = {
    "text": ("text", "a" * LIMIT, "a" * (LIMIT + 1), 0),
    "text-utf8": ("text", "é" * (LIMIT // 2), "é" * (LIMIT // 2) + "a", 0),
    "binary": ("binary", b"b" * LIMIT, b"b" * (LIMIT + 1), 0),
    "binary-deflated": ("binary", os.urandom(LIMIT), b"\x00" * (LIMIT + 1), 15),
}


async def send(ws: aiohttp.ClientWebSocketResponse, data: str | bytes) -> None:
    if isinstance(data, str):
        await ws.send_str(data)
    else:
        await ws.send_bytes(data)


@pytest.mark.parametrize(("kind", "fits", "too_big", "compress"), MESSAGES.values(), ids=MESSAGES.keys())
async def test_a_client_message_over_the_limit_closes_1009(
    ws_gateway: Callable[..., Gateway],
    counting_upstream: CountingUpstream,
    kind: str,
    fits: str | bytes,
    too_big: str | bytes,
    compress: int,
) -> None:
    gateway = ws_gateway({"max_message": LIMIT})
    async with connected(gateway, "/__ws", compress=compress) as ws:
        await send(ws, fits)
        assert (await ws.receive(timeout=6)).data == fits  # exactly the limit passes
        await send(ws, too_big)
        await assert_closes(ws, 1009)
    assert await counting_upstream.close_code() == 1009
    record = gateway.decisions(1)[0]
    assert (record["status"], record["decision"]) == (101, "allow")
    assert record["reason"] == "route-public,websocket-message-too-big"


@pytest.mark.parametrize(("size", "closed"), [(LIMIT, False), (LIMIT + 1, True)])
async def test_an_upstream_message_over_the_limit_closes_1009(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream, size: int, closed: bool
) -> None:
    gateway = ws_gateway({"max_message": LIMIT})
    async with connected(gateway, f"/__big?bytes={size}") as ws:
        message = await ws.receive(timeout=6)
        if closed:
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1009)
        else:
            assert message.data == b"\x5a" * size
    if closed:
        assert await counting_upstream.close_code() == 1009


async def test_the_default_limit_is_one_mebibyte(
    ws_gateway: Callable[..., Gateway], counting_upstream: CountingUpstream
) -> None:
    gateway = ws_gateway()
    async with connected(gateway, "/__ws") as ws:
        await ws.send_bytes(b"m" * MIB)
        assert len(await ws.receive_bytes(timeout=10)) == MIB
        await ws.send_bytes(b"m" * (MIB + 1))
        await assert_closes(ws, 1009, timeout=10)


def frame(opcode: int, length: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 §5.2) declaring `length`, carrying `payload`."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    mask = b"\x00\x00\x00\x00"  # a zero mask keeps the payload readable
    return head + mask + payload


@pytest.mark.parametrize(
    "frames",
    [
        frame(0x2, 1 << 40),  # declares a terabyte: refused before any payload
        frame(0x2, LIMIT + 1, b"x" * (LIMIT + 1)),
        # a message over the limit in frames under it (RFC 6455 §5.4 fragmentation)
        frame(0x2, 600, b"x" * 600, fin=False) + frame(0x0, 600, b"x" * 600),
    ],
    ids=["declared-terabyte", "one-frame", "fragments"],
)
async def test_frames_over_the_limit_close_1009(
    ws_gateway: Callable[..., Gateway], frames: bytes
) -> None:
    gateway = ws_gateway({"max_message": LIMIT})
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        writer.write(handshake())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 6)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(frames)
        close = await asyncio.wait_for(reader.readexactly(4), 6)
        assert close[0] == 0x88 and struct.unpack("!H", close[2:4])[0] == 1009
    finally:
        writer.close()


# --- the relay's edges --------------------------------------------------------------


async def test_an_upstream_that_vanishes_gives_the_client_1011_not_1006(
    ws_gateway: Callable[..., Gateway],
) -> None:
    """RFC 6455 §7.4.1: 1006 is never sent in a close frame."""
    gateway = ws_gateway()
    async with connected(gateway, "/__drop") as ws:
        await ws.send_str("now")
        await assert_closes(ws, 1011)


async def test_the_upstream_handshake_is_bounded_by_the_route_timeouts(
    ws_gateway: Callable[..., Gateway],
) -> None:
    gateway = ws_gateway(route={"upstream_timeouts": {"connect": "1s", "read": "1s"}})
    started = time.monotonic()
    code, headers, _ = await raw_request(gateway.port, handshake(path="/__hang"))
    assert code == 504
    assert time.monotonic() - started < 6  # 2 s configured, never the upstream's 30 s
    assert gateway.record(headers["x-request-id"])["reason"] == "upstream-timeout"

