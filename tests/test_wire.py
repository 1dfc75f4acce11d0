"""`Wire`: the request as read once at the edge (cookies across fields, lengths)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from authgate.wire import Wire


def wire(*headers: tuple[str, str]) -> Wire:
    return Wire(
        method="GET",
        raw_target="/",
        version=(1, 1),
        headers=CIMultiDictProxy(CIMultiDict(headers)),
        peer="192.0.2.1",
        secure=False,
        listener_port=8080,
        ssl_object=None,
    )


def test_cookies_are_read_across_every_cookie_header() -> None:
    # RFC 9113 §8.2.3: an HTTP/2 hop may split cookies over fields; a device cookie in
    # the second one must be seen, and a name's first value wins.
    seen = wire(("Cookie", "a=1; dev=x"), ("Cookie", "dev=y; b=2"))
    assert dict(seen.cookies()) == {"a": "1", "dev": "x", "b": "2"}
    assert seen.cookie("b") == "2"
    assert seen.cookie("missing") is None


def test_cookies_are_parsed_once() -> None:
    seen = wire(("Cookie", "a=1"))
    assert seen.cookies() is seen.cookies()


def test_no_cookie_header_is_no_cookies() -> None:
    assert dict(wire().cookies()) == {}


@pytest.mark.parametrize(
    ("headers", "length"),
    [((), None), ((("Content-Length", "12"),), 12), ((("Content-Length", "x"),), None)],
)
def test_declared_length(headers: tuple[tuple[str, str], ...], length: int | None) -> None:
    assert wire(*headers).content_length() == length


def test_host_is_the_header_as_sent() -> None:
    assert wire(("Host", "App.Example:8080")).host == "App.Example:8080"
    assert wire().host == ""


def test_slotted() -> None:
    with pytest.raises(AttributeError):
        wire().extra = 1  # type: ignore[attr-defined]
