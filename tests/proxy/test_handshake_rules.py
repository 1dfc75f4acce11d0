"""Table tests of the pure WebSocket guards: the handshake and the Origin check."""

from __future__ import annotations

import base64

import pytest
from multidict import CIMultiDict

from authgate.decision import Reason
from authgate.origins import Origin, check_origin, parse_origin
from authgate.proxy.handshake import handshake_problem, wants_websocket

KEY = base64.b64encode(b"k" * 16).decode()
VALID = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13"}
INVALID, VERSION = Reason.WEBSOCKET_HANDSHAKE_INVALID, Reason.WEBSOCKET_VERSION_UNSUPPORTED


def headers(drop: str = "", **changes: str) -> CIMultiDict[str]:
    base = {k: v for k, v in VALID.items() if k != drop}
    base.update({k.replace("_", "-"): v for k, v in changes.items()})
    return CIMultiDict(base)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (headers(), None),
        (headers(Upgrade="WebSocket", Connection="keep-alive, Upgrade"), None),
        (headers("Sec-WebSocket-Key"), INVALID),
        (headers(Sec_WebSocket_Key=base64.b64encode(b"k" * 15).decode()), INVALID),
        (headers(Sec_WebSocket_Key="%" + KEY[1:]), INVALID),
        (headers("Connection"), INVALID),
        (headers(Connection="close"), INVALID),
        (headers(Upgrade="websocket, h2c"), INVALID),
        (headers("Sec-WebSocket-Version"), VERSION),
        (headers(Sec_WebSocket_Version="8"), VERSION),
        (headers(Sec_WebSocket_Version="13, 8"), VERSION),
    ],
)
def test_handshake_rules(given: CIMultiDict[str], problem: Reason | None) -> None:
    assert handshake_problem((1, 1), given) is problem


def test_repeated_headers_and_old_http_are_refused() -> None:
    twice = headers()
    twice.add("Sec-WebSocket-Key", KEY)
    assert handshake_problem((1, 1), twice) is INVALID
    twice = headers()
    twice.add("Sec-WebSocket-Version", "13")
    assert handshake_problem((1, 1), twice) is VERSION
    assert handshake_problem((1, 0), headers()) is INVALID


@pytest.mark.parametrize(
    ("method", "upgrade", "wanted"),
    [("GET", "websocket", True), ("GET", "h2c, WebSocket", True), ("POST", "websocket", False), ("GET", "h2c", False)],
)
def test_wants_websocket(method: str, upgrade: str, wanted: bool) -> None:
    assert wants_websocket(method, CIMultiDict(Upgrade=upgrade)) is wanted


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://a.example", Origin("http", "a.example", 80)),
        ("HTTPS://A.Example:443", Origin("https", "a.example", 443)),
        ("https://a.example:8443", Origin("https", "a.example", 8443)),
        ("http://[0:0::1]:3000", Origin("http", "[::1]", 3000)),
        ("http://127.0.0.1", Origin("http", "127.0.0.1", 80)),
        ("null", None),
        ("", None),
        ("a.example", None),
        ("ws://a.example", None),
        ("http://a.example/", None),
        ("http://a.example/path", None),
        ("http://u@a.example", None),
        ("http://a.example:0", None),
        ("http://a.example:65536", None),
        ("http://a..example", None),
        ("http://a.example.", None),
        ("http://[not-ipv6]", None),
        ("http://ä.example", None),  # browsers send the punycode (xn--) form
    ],
)
def test_parse_origin(text: str, origin: Origin | None) -> None:
    assert parse_origin(text) == origin


def test_origin_serializes_without_default_port() -> None:
    assert [str(parse_origin(t)) for t in ("https://a.example:443", "http://a.example:81")] == [
        "https://a.example",
        "http://a.example:81",
    ]


OWN = Origin("https", "app.example", 443)
OTHER = Origin("https", "portal.example", 443)


@pytest.mark.parametrize(
    ("values", "missing_ok", "problem"),
    [
        (["https://app.example"], False, None),
        (["https://portal.example"], False, None),  # listed
        (["https://evil.example"], False, Reason.WEBSOCKET_ORIGIN_DENIED),
        (["null"], True, Reason.WEBSOCKET_ORIGIN_DENIED),
        (["https://app.example", "https://app.example"], True, Reason.WEBSOCKET_ORIGIN_DENIED),
        ([], False, Reason.WEBSOCKET_ORIGIN_MISSING),
        ([], True, None),
    ],
)
def test_check_origin(values: list[str], missing_ok: bool, problem: Reason | None) -> None:
    assert check_origin(values, own=OWN, allowed=[OTHER], missing_ok=missing_ok) is problem


def test_no_own_origin_allows_only_listed() -> None:
    assert check_origin(["https://app.example"], own=None) is Reason.WEBSOCKET_ORIGIN_DENIED
