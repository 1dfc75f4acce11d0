"""The forward-auth endpoint called directly, as a proxy would (and as a client would).

The gateway trusts 127.0.0.1 only; an "untrusted" client connects from 127.0.0.3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from multidict import CIMultiDict

from tests.proxy.helpers import raw_request
from tests.testbed.gateway import Gateway

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
API = {"Accept": "application/json"}


def traefik(uri: str, host: str = "127.0.0.1", method: str = "GET") -> dict[str, str]:
    return {"X-Forwarded-Method": method, "X-Forwarded-Proto": "http", "X-Forwarded-Host": host, "X-Forwarded-Uri": uri}


def nginx(url: str, method: str = "GET") -> dict[str, str]:
    return {"X-Original-URL": url, "X-Original-Method": method}


async def ask(
    gateway: Gateway, headers: Mapping[str, str], query: str = "", local: str = "127.0.0.1"
) -> tuple[int, CIMultiDict[str], str]:
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    async with aiohttp.ClientSession(connector=connector) as client:
        url = f"{gateway.url}/.authgate/auth" + (f"?{query}" if query else "")
        async with client.get(url, headers=dict(headers), allow_redirects=False) as r:
            return r.status, CIMultiDict(r.headers), await r.text()


def record(gateway: Gateway, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """The decision record of one request (the log is written off the request path)."""
    return gateway.record(request_id, timeout)


@pytest.mark.parametrize("dialect", [traefik("/public/x"), nginx("http://127.0.0.1/public/x")], ids=["forward", "nginx"])
async def test_untrusted_peer_is_refused_and_logged(shared_gateway: Gateway, dialect: dict[str, str]) -> None:
    status, headers, _ = await ask(shared_gateway, {**API, **dialect}, local="127.0.0.3")
    assert status == 403
    decision = record(shared_gateway, headers["X-Request-Id"])
    assert decision["decision"] == "deny" and decision["rule"] == "forward-auth:untrusted-peer"
    assert decision["client_ip"] == "127.0.0.3"
    assert "forward-auth call from untrusted peer 127.0.0.3 refused" in shared_gateway.stderr()
    # The same question from the trusted proxy address is answered.
    status, _, _ = await ask(shared_gateway, {**API, **dialect})
    assert status == 200


async def test_allow_answers_200_with_request_id_and_nothing_cached(shared_gateway: Gateway) -> None:
    status, headers, body = await ask(shared_gateway, {**API, **traefik("/public/x")})
    assert (status, body) == (200, "")
    assert headers["Cache-Control"] == "no-store"
    assert not [name for name in headers if name.lower().startswith("x-authgate-")]  # nobody signed in
    decision = record(shared_gateway, headers["X-Request-Id"])
    assert (decision["host"], decision["path"], decision["method"]) == ("127.0.0.1", "/public/x", "GET")
    assert decision["status"] == 200 and decision["reason"] == "route-public"


async def test_login_for_a_browser_is_a_302_or_for_nginx_a_401_with_location(shared_gateway: Gateway) -> None:
    expected = "http://127.0.0.1:8443/.authgate/start?" + urlencode({"rd": "http://127.0.0.1:8443/a/c?q=1"})
    status, headers, _ = await ask(shared_gateway, {**BROWSER, **traefik("/a/./b/../c?q=1", "127.0.0.1:8443")})
    assert (status, headers["Location"]) == (302, expected)
    status, headers, _ = await ask(shared_gateway, {**BROWSER, **nginx("http://127.0.0.1:8443/a/./b/../c?q=1")})
    assert (status, headers["Location"]) == (401, expected)
    assert headers["WWW-Authenticate"].startswith("Session")


@pytest.mark.parametrize(
    "headers",
    [
        {**API, **traefik("/x")},
        {**BROWSER, **traefik("/x", method="POST")},
        {**BROWSER, "Sec-Fetch-Mode": "cors", **traefik("/x")},
        {**BROWSER, **nginx("http://127.0.0.1/x", method="DELETE")},
    ],
    ids=["api", "post", "fetch", "nginx-delete"],
)
async def test_login_for_anything_else_is_a_401_challenge(shared_gateway: Gateway, headers: dict[str, str]) -> None:
    status, answer, _ = await ask(shared_gateway, headers)
    assert status == 401 and "Location" not in answer
    assert answer["WWW-Authenticate"] == 'Session realm="authgate", login_uri="/.authgate/start"'


@pytest.mark.parametrize(
    ("headers", "query", "status", "reason", "rule"),
    [
        # No route for the host: a 404 in proxy mode, but here "may it pass?" -> no.
        ({**traefik("/x", "other.test")}, "", 403, "host-unknown", None),
        ({**nginx("http://other.test/x")}, "", 403, "host-unknown", None),
        ({**traefik("/a/%2F/b")}, "", 400, "path-invalid", "forward-auth:target"),
        ({**nginx("http://127.0.0.1/a/%2F/b")}, "", 403, "path-invalid", "forward-auth:target"),
        ({**traefik("/x", "bad_host")}, "", 400, "host-invalid", "forward-auth:target"),
        ({**traefik("/x"), **nginx("http://127.0.0.1/x")}, "", 400, "path-invalid", "forward-auth:headers"),
        ({**traefik("/x")}, "mode=envoy", 400, "path-invalid", "forward-auth:headers"),
        ({**traefik("/x")}, "mode=nginx", 403, "path-invalid", "forward-auth:headers"),
        ({"X-Forwarded-Uri": "/x"}, "", 400, "path-invalid", "forward-auth:headers"),
    ],
    ids=[
        "unknown-host", "unknown-host-nginx", "encoded-slash", "encoded-slash-nginx", "bad-host",
        "both-dialects", "unknown-mode", "nginx-mode-without-original-url", "incomplete",
    ],
)
async def test_refusals(
    shared_gateway: Gateway, headers: dict[str, str], query: str, status: int, reason: str, rule: str | None
) -> None:
    got, answer, body = await ask(shared_gateway, {**API, **headers}, query)
    assert got == status, body
    decision = record(shared_gateway, answer["X-Request-Id"])
    assert (decision["decision"], decision["reason"], decision["rule"], decision["status"]) == (
        "deny", reason, rule, status
    )


async def test_a_pinned_dialect_ignores_the_other_headers(shared_gateway: Gateway) -> None:
    # A client behind Caddy or Traefik adds X-Original-URL naming a public page.
    spoof = nginx("http://127.0.0.1/public/x")
    status, _, _ = await ask(shared_gateway, {**API, **traefik("/secret"), **spoof}, "mode=forward")
    assert status == 401


async def test_only_the_exact_raw_path_is_the_auth_endpoint(shared_gateway: Gateway) -> None:
    extra = "".join(f"{k}: {v}\r\n" for k, v in traefik("/public/x").items())
    for target, expected in [("/.authgate/auth", 200), ("/.authgate//auth", 404), ("/.authgate/%61uth", 404)]:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n"
        status, _, _ = await raw_request(shared_gateway.port, request.encode())
        assert status == expected, target


async def test_the_auth_calls_own_host_header_does_not_matter(shared_gateway: Gateway) -> None:
    # Traefik calls the gateway by its service name; Docker names may hold `_`.
    extra = "".join(f"{k}: {v}\r\n" for k, v in traefik("/public/x").items())
    for host in ("authgate_gateway:8080", "authgate.internal"):
        request = f"GET /.authgate/auth HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
        status, _, _ = await raw_request(shared_gateway.port, request.encode())
        assert status == 200, host
