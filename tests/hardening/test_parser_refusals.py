"""Requests the HTTP parser or the router refused without a record get the gateway's
own answer: the right status, JSON with the request id, one decision record, and
nothing forwarded (raw sockets; RFC 9112 §2.2/§3, RFC 9110 §9.1/§15.6.6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.hardening.rawconn import assert_refusal, assert_refused_record, connect
from tests.proxy.conftest import echo_gateway  # noqa: F401  (fixture)
from tests.testbed.gateway import Gateway


def line(request_line: bytes, headers: bytes = b"Host: echo.test\r\n") -> bytes:
    return request_line + b"\r\n" + headers + b"Accept: application/json\r\nConnection: close\r\n\r\n"


# (request bytes, status, reason)
REFUSED: dict[str, tuple[bytes, int, str]] = {
    # control characters in the path, encoded (the router used to answer 404 itself)
    "encoded-lf": (line(b"GET /a%0ab HTTP/1.1"), 400, "path-invalid"),
    "encoded-cr": (line(b"GET /a%0db HTTP/1.1"), 400, "path-invalid"),
    "encoded-nul": (line(b"GET /a%00b HTTP/1.1"), 400, "path-invalid"),
    "encoded-crlf-header": (line(b"GET /a%0d%0aSet-Cookie:x HTTP/1.1"), 400, "path-invalid"),
    # ... and raw, which the parser refuses
    "raw-del": (line(b"GET /a\x7fb HTTP/1.1"), 400, "request-invalid"),
    "raw-tab": (line(b"GET /a\tb HTTP/1.1"), 400, "request-invalid"),
    # methods: CONNECT asks for a tunnel; a non-token method is malformed; a token
    # the gateway does not know is not implemented
    "connect-authority": (line(b"CONNECT echo.test:443 HTTP/1.1"), 405, "method-not-allowed"),
    "connect-origin": (line(b"CONNECT /x HTTP/1.1"), 405, "method-not-allowed"),
    "method-odd-chars": (line(b"G@T /x HTTP/1.1"), 400, "request-invalid"),
    "method-control-char": (line(b"GE\x01T /x HTTP/1.1"), 400, "request-invalid"),
    "method-unknown-token": (line(b"FROB /x HTTP/1.1"), 501, "method-not-implemented"),
    # versions other than HTTP/1.0 and 1.1 on this port (HTTP/0.9, like framing, field
    # syntax, line ends and control bytes: the smuggling table,
    # tests/dataplane/test_smuggling.py)
    "http-2.0": (line(b"GET /x HTTP/2.0"), 505, "version-not-supported"),
    "http-3.0": (line(b"GET /x HTTP/3.0"), 505, "version-not-supported"),
    "http-1.2": (line(b"GET /x HTTP/1.2"), 505, "version-not-supported"),
    "h2-preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "version-not-supported"),
    # malformed request lines and heads
    "not-http": (b"hello world\r\n\r\n", 400, "request-invalid"),
    "tls-on-http-port": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40, 400, "request-invalid"),
    "version-garbage": (line(b"GET /x HTTQ/1.1"), 400, "request-invalid"),
    "asterisk-form": (line(b"OPTIONS * HTTP/1.1"), 400, "request-invalid"),
    # RFC 9112 §3.2: exactly one Host
    "two-hosts": (line(b"GET /x HTTP/1.1", b"Host: echo.test\r\nHost: other.test\r\n"), 400, "host-invalid"),
    "no-host": (line(b"GET /x HTTP/1.1", b""), 400, "host-invalid"),
    # RFC 9110 §15.5.15: a target longer than the request-line limit (16 KiB)
    "uri-too-long": (line(b"GET /" + b"a" * 20000 + b" HTTP/1.1"), 414, "uri-too-long"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED))
async def test_refused_request_gets_the_gateways_answer_and_a_record(
    echo_gateway: Callable[..., Gateway], case: str  # noqa: F811
) -> None:
    gateway = echo_gateway()
    data, status, reason = REFUSED[case]
    conn = await connect(gateway.port)
    await conn.send(data)
    answer = await conn.answer()
    conn.close()
    request_id = assert_refusal(answer, status, reason)
    assert (answer.version, answer.headers["connection"]) == ("HTTP/1.1", "close")
    assert answer.headers["content-type"].startswith("application/json")
    if status == 405:
        assert "CONNECT" not in answer.headers["allow"]
    assert len(gateway.decisions(1)) == 1
    assert_refused_record(gateway, request_id, status, reason)
    assert "Traceback" not in gateway.stderr()


async def test_requests_before_a_refused_one_on_the_connection_are_answered(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway()
    conn = await connect(gateway.port)
    first = b"GET /first HTTP/1.1\r\nHost: echo.test\r\nAccept: application/json\r\n\r\n"
    await conn.send(first + line(b"GET /x HTTP/2.0"))
    answers = [await conn.answer(), await conn.answer()]
    conn.close()
    assert answers[0].status == 200 and answers[0].json()["raw_target"] == "/first"
    assert_refusal(answers[1], 505, "version-not-supported")
    assert [r["status"] for r in gateway.decisions(2)] == [200, 505]


async def test_what_follows_a_declined_upgrade_is_not_served(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    # The bytes after an upgrade request are held raw until it is answered; when it is
    # declined (here: sign-in required), they must not be served unchecked afterwards.
    gateway = echo_gateway(public=[])
    upgrade = (
        b"GET /ws HTTP/1.1\r\nHost: echo.test\r\nAccept: application/json\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://echo.test\r\n\r\n"
    )
    conn = await connect(gateway.port)
    await conn.send(upgrade + line(b"GET /after HTTP/2.0"))
    first = await conn.answer()
    _, rest = await conn.closed_after()
    conn.close()
    assert first.status == 401
    assert rest == b""
    assert [r["path"] for r in gateway.decisions(1)] == ["/ws"]
