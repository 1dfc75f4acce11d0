"""Absolute-form targets as origin-form, and what is refused: one table (RFC 9112 §3.2.2)."""

from __future__ import annotations

import pytest

from authgate.conn.absolute_form import OriginForm, origin_form
from authgate.decision import Reason

HOST = ["echo.test"]
V11 = (1, 1)
V10 = (1, 0)
INVALID = Reason.HOST_INVALID


@pytest.mark.parametrize(
    ("target", "hosts", "version", "expected"),
    [
        # not absolute-form: nothing to rewrite
        ("/s?q", HOST, V11, None),
        ("/", [], V10, None),
        ("ftp://x/", HOST, V11, None),  # check_head refuses it before
        # the target's authority is the request's Host, whatever Host said
        ("http://echo.test/s", ["evil.test"], V11, OriginForm("/s", "echo.test")),
        ("http://evil.test/s", HOST, V11, OriginForm("/s", "evil.test")),
        ("https://echo.test/s", HOST, V11, OriginForm("/s", "echo.test")),
        ("HTTP://Echo.Test:8080/a/b?x=1", HOST, V11, OriginForm("/a/b?x=1", "Echo.Test:8080")),
        ("http://[::1]:8080/s", HOST, V11, OriginForm("/s", "[::1]:8080")),
        # an empty path is "/" (RFC 9112 §3.2.1), the query kept
        ("http://echo.test", HOST, V11, OriginForm("/", "echo.test")),
        ("http://echo.test?x=1", HOST, V11, OriginForm("/?x=1", "echo.test")),
        ("http://echo.test?", HOST, V11, OriginForm("/?", "echo.test")),
        # a fragment stays where the path rules refuse it (as `/#f`)
        ("http://echo.test#f", HOST, V11, OriginForm("/#f", "echo.test")),
        ("http://echo.test/s#f", HOST, V11, OriginForm("/s#f", "echo.test")),
        # a "/" in the query does not end the authority early, nor is the query the path
        ("http://echo.test?a=/b", HOST, V11, OriginForm("/?a=/b", "echo.test")),
        # HTTP/1.0 may send no Host at all
        ("http://echo.test/s", [], V10, OriginForm("/s", "echo.test")),
        # the authority refused (RFC 9110 §4.2.1, §4.2.4; normalize_host)
        ("http:///s", HOST, V11, INVALID),
        ("http://?x", HOST, V11, INVALID),
        ("http://user@echo.test/s", HOST, V11, INVALID),
        ("http://echo.test@evil.test/s", HOST, V11, INVALID),
        ("http://:@echo.test/s", HOST, V11, INVALID),
        ("http://echo.test:99999/s", HOST, V11, INVALID),
        ("http://echo.test:/s", HOST, V11, INVALID),
        ("http://ev_il.test/s", HOST, V11, INVALID),
        ("http://ev%69l.test/s", HOST, V11, INVALID),
        ("http://echo.test\\evil.test/s", HOST, V11, INVALID),
        ("http://[::1/s", HOST, V11, INVALID),
        # the received Host fields still follow RFC 9112 §3.2
        ("http://echo.test/s", [], V11, INVALID),
        ("http://echo.test/s", ["echo.test", "echo.test"], V11, INVALID),
        ("http://echo.test/s", ["echo.test", "evil.test"], V10, INVALID),
        ("http://echo.test/s", ["bad host!"], V11, INVALID),
        ("http://echo.test/s", [""], V11, INVALID),
    ],
)
def test_origin_form(
    target: str, hosts: list[str], version: tuple[int, int], expected: OriginForm | Reason | None
) -> None:
    assert origin_form(target, hosts, version) == expected
