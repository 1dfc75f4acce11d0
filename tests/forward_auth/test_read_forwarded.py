"""Reading the authorized request from a proxy's headers: the two dialects, as a table."""

from __future__ import annotations

import dataclasses

import pytest
from multidict import CIMultiDict

from authgate.decision import Reason
from authgate.facts import RequestFacts
from authgate.server.forward_auth import (
    Dialect,
    Forwarded,
    ForwardedRejected,
    forwarded_facts,
    is_forward_auth,
    read_forwarded,
)

TRAEFIK = {
    "X-Forwarded-Method": "GET",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "App.Example.com:8443",
    "X-Forwarded-Uri": "/a/b?c=1",
}
NGINX = {"X-Original-URL": "https://app.example.com/a/b?c=1", "X-Original-Method": "POST"}


def headers(*parts: dict[str, str]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for part in parts:
        out.extend(part)
    return out


@pytest.mark.parametrize(
    ("given", "mode", "expected"),
    [
        (headers(TRAEFIK), None, Forwarded(Dialect.FORWARD, "GET", "https", "App.Example.com:8443", "/a/b?c=1")),
        (headers(NGINX), None, Forwarded(Dialect.NGINX, "POST", "https", "app.example.com", "/a/b?c=1")),
        (headers(NGINX), "nginx", Forwarded(Dialect.NGINX, "POST", "https", "app.example.com", "/a/b?c=1")),
        # A pinned dialect ignores the other set: what the client sent through.
        (headers(TRAEFIK, NGINX), "forward", Forwarded(Dialect.FORWARD, "GET", "https", "App.Example.com:8443", "/a/b?c=1")),
        (headers(NGINX, TRAEFIK), "nginx", Forwarded(Dialect.NGINX, "POST", "https", "app.example.com", "/a/b?c=1")),
        (headers({"X-Original-URL": "HTTP://h:81/", "X-Original-Method": "HEAD"}), None, Forwarded(Dialect.NGINX, "HEAD", "http", "h:81", "/")),
        (
            headers({**TRAEFIK, "X-Forwarded-Proto": "HTTP"}),
            None,
            Forwarded(Dialect.FORWARD, "GET", "http", "App.Example.com:8443", "/a/b?c=1"),
        ),
    ],
    ids=["traefik", "nginx", "nginx-pinned", "forward-pinned-ignores-original", "nginx-pinned-ignores-forwarded", "original-uppercase-scheme", "proto-case"],
)
def test_reads_one_dialect(given: CIMultiDict[str], mode: str | None, expected: Forwarded) -> None:
    assert read_forwarded(given, mode) == expected


def without(source: dict[str, str], name: str) -> CIMultiDict[str]:
    return headers({k: v for k, v in source.items() if k != name})


def twice(source: dict[str, str], name: str) -> CIMultiDict[str]:
    out = headers(source)
    out.add(name, source[name])
    return out


@pytest.mark.parametrize(
    ("given", "mode", "reason", "dialect"),
    [
        # Both URL headers: one of them came from the client; refuse rather than guess.
        (headers(TRAEFIK, NGINX), None, Reason.PATH_INVALID, None),
        (headers({"Accept": "*/*"}), None, Reason.PATH_INVALID, None),
        (headers(TRAEFIK), "traefik", Reason.PATH_INVALID, None),
        (without(TRAEFIK, "X-Forwarded-Host"), None, Reason.HOST_INVALID, Dialect.FORWARD),
        (without(TRAEFIK, "X-Forwarded-Method"), None, Reason.PATH_INVALID, Dialect.FORWARD),
        (without(TRAEFIK, "X-Forwarded-Proto"), None, Reason.PATH_INVALID, Dialect.FORWARD),
        (twice(TRAEFIK, "X-Forwarded-Uri"), None, Reason.PATH_INVALID, Dialect.FORWARD),
        (twice(TRAEFIK, "X-Forwarded-Host"), None, Reason.HOST_INVALID, Dialect.FORWARD),
        (headers({**TRAEFIK, "X-Forwarded-Proto": "ftp"}), None, Reason.PATH_INVALID, Dialect.FORWARD),
        (headers({**TRAEFIK, "X-Forwarded-Proto": "https, http"}), None, Reason.PATH_INVALID, Dialect.FORWARD),
        (headers({**TRAEFIK, "X-Forwarded-Method": "GET /x"}), None, Reason.PATH_INVALID, Dialect.FORWARD),
        (headers({**TRAEFIK, "X-Forwarded-Uri": ""}), None, Reason.PATH_INVALID, Dialect.FORWARD),
        (without(NGINX, "X-Original-Method"), None, Reason.PATH_INVALID, Dialect.NGINX),
        (twice(NGINX, "X-Original-URL"), None, Reason.PATH_INVALID, Dialect.NGINX),
        (headers({**NGINX, "X-Original-URL": "ftp://app.example.com/x"}), None, Reason.PATH_INVALID, Dialect.NGINX),
        (headers({**NGINX, "X-Original-URL": "//app.example.com/x"}), None, Reason.PATH_INVALID, Dialect.NGINX),
        (headers({**NGINX, "X-Original-URL": "https://app.example.com"}), None, Reason.PATH_INVALID, Dialect.NGINX),
        (headers({**NGINX, "X-Original-URL": "/x"}), None, Reason.PATH_INVALID, Dialect.NGINX),
        (headers(TRAEFIK), "nginx", Reason.PATH_INVALID, Dialect.NGINX),
    ],
    ids=[
        "both-url-headers", "neither", "unknown-mode", "no-host", "no-method", "no-proto",
        "uri-twice", "host-twice", "proto-ftp", "proto-list", "method-junk", "uri-empty",
        "original-no-method", "original-twice", "original-ftp", "original-no-scheme",
        "original-no-path", "original-relative", "nginx-pinned-without-original",
    ],
)
def test_refuses_what_does_not_name_one_request(
    given: CIMultiDict[str], mode: str | None, reason: Reason, dialect: Dialect | None
) -> None:
    with pytest.raises(ForwardedRejected) as refused:
        read_forwarded(given, mode)
    assert refused.value.reason is reason
    assert refused.value.dialect is dialect


BASE = RequestFacts(
    request_id="rid-1",
    method="GET",
    scheme="http",
    host="authgate",
    raw_target="/.authgate/auth?mode=forward",
    path="/.authgate/auth",
    query="mode=forward",
    client_ip="203.0.113.9",
    peer_ip="127.0.0.1",
    peer_trusted=True,
    started=1.0,
    time=2.0,
)


def forward(authority: str, target: str) -> Forwarded:
    return Forwarded(Dialect.FORWARD, "PUT", "https", authority, target)


@pytest.mark.parametrize(
    ("authority", "target", "host", "path", "query", "problem"),
    [
        ("App.Example.COM.:8443", "/a/./b/../c?x=1", "app.example.com", "/a/c", "x=1", None),
        ("app.example.com", "/public/../admin", "app.example.com", "/admin", "", None),
        ("app.example.com", "//a///b", "app.example.com", "/a/b", "", None),
        ("app.example.com", "/a/%2F/b", "app.example.com", "", "", Reason.PATH_INVALID),
        ("app.example.com", "/..;/admin", "app.example.com", "", "", Reason.PATH_INVALID),
        ("app.example.com", "/a?b c", "app.example.com", "", "b c", Reason.PATH_INVALID),
        ("app.example.com", "http://evil.example/x", "app.example.com", "", "", Reason.PATH_INVALID),
        ("user@app.example.com", "/a", "", "/a", "", Reason.HOST_INVALID),
        ("app.example.com:0", "/a", "", "/a", "", Reason.HOST_INVALID),
        ("app.example.com?x", "/a", "", "/a", "", Reason.HOST_INVALID),
    ],
)
def test_the_target_is_normalized_like_a_proxied_request(
    authority: str, target: str, host: str, path: str, query: str, problem: Reason | None
) -> None:
    facts, found = forwarded_facts(BASE, forward(authority, target))
    assert (facts.host, facts.path, facts.query, found) == (host, path, query, problem)
    assert (facts.method, facts.scheme, facts.raw_target) == ("PUT", "https", target)
    # Who asked, and when, stay the auth request's own.
    same = ("request_id", "client_ip", "peer_ip", "peer_trusted", "started", "time")
    assert all(getattr(facts, name) == getattr(BASE, name) for name in same)


@pytest.mark.parametrize(
    ("raw_target", "expected"),
    [
        ("/.authgate/auth", True),
        ("/.authgate/auth?mode=nginx", True),
        ("/.authgate//auth", False),
        ("/.authgate/%61uth", False),
        ("/.authgate/auth/", False),
        ("/.authgate/AUTH", False),
        ("/x/../.authgate/auth", False),
    ],
)
def test_only_the_exact_path_is_the_auth_call(raw_target: str, expected: bool) -> None:
    assert is_forward_auth(dataclasses.replace(BASE, raw_target=raw_target)) is expected
