"""The connection level's checks as tables: request lines, heads, parser errors."""

from __future__ import annotations

import pytest

from authgate.conn.refusals import (
    ParseError,
    RequestHint,
    check_head,
    classify_parse_error,
    header_section_bytes,
)
from authgate.decide import refuse_request
from authgate.decision import Reason

BUDGET = 32 * 1024


@pytest.mark.parametrize(
    ("prefix", "hint"),
    [
        (b"GET /x HTTP/1.1\r\nHost: a\r\n", RequestHint("GET", "/x", b"HTTP/1.1", True)),
        (b"GET /x HT", RequestHint("GET", "/x", b"", False)),
        (b"G@T /x HTTP/1.1\r\n", RequestHint("", "/x", b"HTTP/1.1", True)),
        (b"\x16\x03\x01\x00", RequestHint("", "", b"", False)),
        (b"", RequestHint()),
        (b"GET /a\nb HTTP/1.1\r\n", RequestHint("GET", "/a", b"", True)),
    ],
    ids=["complete", "partial", "odd-method", "tls", "empty", "bare-lf"],
)
def test_request_hint(prefix: bytes, hint: RequestHint) -> None:
    assert RequestHint.read(prefix) == hint


@pytest.mark.parametrize(
    ("method", "version", "target", "size", "reason"),
    [
        ("GET", (1, 1), "/x", 100, None),
        ("GET", (1, 0), "/x", 100, None),
        ("POST", (1, 1), "http://a.test/x", 100, None),
        ("GET", (2, 0), "/x", 100, Reason.VERSION_NOT_SUPPORTED),
        ("GET", (0, 9), "/x", 100, Reason.VERSION_NOT_SUPPORTED),
        ("CONNECT", (1, 1), "a.test:443", 100, Reason.METHOD_NOT_ALLOWED),
        ("OPTIONS", (1, 1), "*", 100, Reason.REQUEST_INVALID),
        ("GET", (1, 1), "/x", BUDGET, None),
        ("GET", (1, 1), "/x", BUDGET + 1, Reason.HEADERS_TOO_LARGE),
    ],
)
def test_check_head(
    method: str, version: tuple[int, int], target: str, size: int, reason: Reason | None
) -> None:
    assert check_head(method, version, target, size, BUDGET) is reason


@pytest.mark.parametrize(
    ("error", "prefix", "reason"),
    [
        (ParseError.LINE_TOO_LONG, b"GET /aaaa", Reason.URI_TOO_LONG),
        (ParseError.LINE_TOO_LONG, b"GET / HTTP/1.1\r\nX: aaaa", Reason.HEADERS_TOO_LARGE),
        (ParseError.TOO_MANY_HEADERS, b"GET / HTTP/1.1\r\n", Reason.HEADERS_TOO_LARGE),
        (ParseError.HOST, b"GET / HTTP/1.1\r\n", Reason.HOST_INVALID),
        (ParseError.BAD_REQUEST_LINE, b"GET / HTTP/2.0\r\n", Reason.VERSION_NOT_SUPPORTED),
        (ParseError.OTHER, b"PRI * HTTP/2.0\r\n\r\nSM", Reason.VERSION_NOT_SUPPORTED),
        (ParseError.BAD_REQUEST_LINE, b"GET / HTTQ/1.1\r\n", Reason.REQUEST_INVALID),
        (ParseError.BAD_METHOD, b"FROB / HTTP/1.1\r\n", Reason.METHOD_NOT_IMPLEMENTED),
        (ParseError.BAD_METHOD, b"G@T / HTTP/1.1\r\n", Reason.REQUEST_INVALID),
        (ParseError.BAD_METHOD, b"hello world\r\n", Reason.REQUEST_INVALID),
        (ParseError.BAD_METHOD, b"\x16\x03\x01", Reason.REQUEST_INVALID),
        (ParseError.OTHER, b"GET / HTTP/1.1\r\nBad Name: x\r\n", Reason.REQUEST_INVALID),
    ],
)
def test_classify_parse_error(error: ParseError, prefix: bytes, reason: Reason) -> None:
    assert classify_parse_error(error, prefix) is reason


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        (Reason.HEADER_TIMEOUT, 408), (Reason.BODY_TIMEOUT, 408), (Reason.BODY_TOO_SLOW, 408),
        (Reason.BODY_TOO_LARGE, 413), (Reason.URI_TOO_LONG, 414), (Reason.HEADERS_TOO_LARGE, 431),
        (Reason.METHOD_NOT_ALLOWED, 405), (Reason.METHOD_NOT_IMPLEMENTED, 501),
        (Reason.CONNECTIONS_EXCEEDED, 503), (Reason.VERSION_NOT_SUPPORTED, 505),
        (Reason.REQUEST_INVALID, 400), (Reason.HOST_INVALID, 400), (Reason.PATH_INVALID, 400),
    ],
)  # fmt: skip
def test_each_refusal_has_its_status(reason: Reason, status: int) -> None:
    decision = refuse_request(reason)
    assert (decision.status, decision.reasons, decision.route_id) == (status, (reason,), None)


def test_header_section_bytes_counts_each_line_on_the_wire() -> None:
    assert header_section_bytes([(b"Host", b"a.test"), (b"X", b"")]) == len(b"Host: a.test\r\nX: \r\n")
