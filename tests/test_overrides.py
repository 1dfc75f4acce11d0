"""Opted-in URL and method overrides: the request they describe, or a refusal (table)."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from multidict import CIMultiDict

from authgate.config.schema_headers import OverrideHeader
from authgate.facts import RequestFacts
from authgate.mutate.spoofed import METHOD_OVERRIDES, URL_OVERRIDES
from authgate.overrides import OverrideRejected, overridden, rewrite

FACTS = RequestFacts(
    request_id="r",
    method="GET",
    scheme="http",
    host="app.test",
    raw_target="/public/x?a=1",
    path="/public/x",
    query="a=1",
    client_ip="203.0.113.9",
    peer_ip="203.0.113.9",
    peer_trusted=False,
    started=0.0,
    time=0.0,
)
ALL = [*METHOD_OVERRIDES, *URL_OVERRIDES]

CASES = [
    # (headers, opted, (method, path, query) evaluated)
    ([], ALL, ("GET", "/public/x", "a=1")),
    ([("X-HTTP-Method-Override", "DELETE")], ALL, ("DELETE", "/public/x", "a=1")),
    ([("x-http-method-override", "delete")], ALL, ("DELETE", "/public/x", "a=1")),
    ([("X-Method-Override", "PUT")], ["X-Method-Override"], ("PUT", "/public/x", "a=1")),
    ([("X-HTTP-Method", "PATCH")], ["x-http-method"], ("PATCH", "/public/x", "a=1")),
    ([("X-HTTP-Method-Override", "DELETE")], ["X-Method-Override"], ("GET", "/public/x", "a=1")),
    ([("X_HTTP_Method_Override", "DELETE")], ALL, ("GET", "/public/x", "a=1")),  # not read
    ([("X-Original-URL", "/admin")], ALL, ("GET", "/admin", "")),
    ([("X-Rewrite-URL", "/a/../admin?x=%20")], ALL, ("GET", "/admin", "x=%20")),
    ([("X-Original-URI", "/%61dmin")], ALL, ("GET", "/admin", "")),
    ([("X-Forwarded-Uri", "//admin/./users")], ALL, ("GET", "/admin/users", "")),
    ([("X-Forwarded-Path", "/admin")], ["X-Forwarded-Path"], ("GET", "/admin", "")),
    (
        [("X-Original-URL", "/admin"), ("X-HTTP-Method-Override", "DELETE")],
        ALL,
        ("DELETE", "/admin", ""),
    ),
    ([("X-HTTP-Method-Override", "DELETE"), ("X-Method-Override", "DELETE")], ALL, ("DELETE", "/public/x", "a=1")),
]
REJECTED = [
    [("X-HTTP-Method-Override", "DELETE"), ("X-HTTP-Method-Override", "PUT")],
    [("X-HTTP-Method-Override", "DELETE"), ("X-Method-Override", "PUT")],
    [("X-HTTP-Method-Override", "DEL ETE")],
    [("X-HTTP-Method-Override", "")],
    [("X-HTTP-Method-Override", "A" * 33)],
    [("X-Original-URL", "http://evil.test/admin")],
    [("X-Original-URL", "admin")],
    [("X-Original-URL", "/admin%0a")],
    [("X-Original-URL", "/ok?x=a b")],
    [("X-Original-URL", "/../../etc/passwd%00")],
    [("X-Original-URL", "/a"), ("X-Rewrite-URL", "/b")],
]


@pytest.mark.parametrize(("headers", "opted", "evaluated"), CASES)
def test_overridden(headers: list[tuple[str, str]], opted: list[str], evaluated: tuple[str, str, str]) -> None:
    facts = overridden(FACTS, CIMultiDict(headers), opted)
    assert (facts.method, facts.path, facts.query) == evaluated
    if evaluated == ("GET", "/public/x", "a=1"):
        assert facts is FACTS


@pytest.mark.parametrize("headers", REJECTED)
def test_rejected(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(OverrideRejected):
        overridden(FACTS, CIMultiDict(headers), ALL)


def test_rewrite_sets_the_evaluated_values() -> None:
    facts = dataclasses.replace(FACTS, method="DELETE", path="/admin", query="x=1")
    headers = CIMultiDict([("x-http-method-override", "delete"), ("X-Original-URL", "/a/../admin?x=1")])
    rewrite(headers, facts, ["X-HTTP-Method-Override", "X-Original-URL", "X-Rewrite-URL"])
    assert headers.getall("X-HTTP-Method-Override") == ["DELETE"]
    assert headers.getall("X-Original-URL") == ["/admin?x=1"]
    assert "X-Rewrite-URL" not in headers


def test_the_config_accepts_exactly_the_override_names() -> None:
    assert list(typing.get_args(OverrideHeader)) == ALL
