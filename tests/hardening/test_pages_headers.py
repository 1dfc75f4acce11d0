"""Every answer the gateway writes itself carries the browser hardening headers, and no
response — answer, proxied, admin, parser refusal — names a server version.

The answers are collected over the whole class: error pages and their JSON twins for
each kind of refusal, the gateway's endpoints, the login redirects (the callback most of
all: its redirect must not leak the code in a Referer), the denied page after a real
login, and the logout redirect. For HTML pages the test also checks that each `<style>`
block's hash is in the policy (or the browser would render the page unstyled) and that
no page carries a script.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.hardening.answer_checks import assert_hardened, assert_no_version
from tests.hardening.scripted_upstream import ScriptedUpstream, scripted_upstream
from tests.proxy.conftest import public_route
from tests.proxy.helpers import raw_request
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import login_at_provider, parse_forms
from tests.testbed.ports import free_port

__all__ = ["scripted_upstream"]  # the fixture, imported for this module

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
API = {"Accept": "application/json"}
@pytest.fixture
def plain_gateway(
    gateway_factory: Callable[..., Gateway], echo_upstream: Any
) -> Gateway:
    dead = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    echo = str(echo_upstream.make_url("/")).rstrip("/")
    routes = [
        public_route(echo, match={"host": "echo.test", "methods": ["GET"]}),
        public_route(dead, id="dead", match={"host": "dead.test"}),
    ]
    config = {"routes": routes, "server": {"admin_listen": f"127.0.0.1:{free_port('127.0.0.1')}"}}
    return gateway_factory(config)


# (host, method, path, status) of answers the gateway writes itself, without a login.
ANSWERS = [
    ("echo.test", "GET", "/a/%2Fb", 400),  # path-invalid
    ("nowhere.test", "GET", "/", 404),  # host-unknown
    ("echo.test", "POST", "/x", 405),  # method-not-allowed
    ("dead.test", "GET", "/x", 502),  # upstream-unreachable
    ("echo.test", "GET", "/.authgate/nothing-here", 404),  # endpoint-not-found
    ("echo.test", "GET", "/.authgate/start?rd=/x", 400),  # provider-unknown
    ("echo.test", "GET", "/.authgate/callback?state=x&code=y", 400),  # login-state-mismatch
    ("echo.test", "GET", "/.authgate/userinfo", 401),
    ("echo.test", "GET", "/.authgate/sign-in?rd=/x", 200),  # the chooser
    ("echo.test", "GET", "/.authgate/logged-out", 200),
    ("echo.test", "GET", "/.authgate/logout", 200),  # signed out: the logged-out page
    ("echo.test", "POST", "/.authgate/logout", 303),  # no session: to the logged-out page
]


@pytest.mark.parametrize("accept", [BROWSER, API], ids=["html", "json"])
async def test_every_answer_is_hardened(plain_gateway: Gateway, accept: dict[str, str]) -> None:
    # One gateway for the whole table (a start costs seconds); each row names itself.
    async with aiohttp.ClientSession() as client:
        for host, method, path, status in ANSWERS:
            async with client.request(
                method, f"{plain_gateway.url}{path}", headers={"Host": host, **accept},
                allow_redirects=False,
            ) as response:
                body = await response.text()
                assert response.status == status, (path, body)
                if accept is BROWSER and status not in (302, 303):
                    assert "<html" in body, path  # a page: its styles are checked too
                assert_hardened(response.headers, body)


async def test_jwks_keeps_its_caching_and_gets_the_rest(plain_gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{plain_gateway.url}/.authgate/jwks.json", headers={"Host": "echo.test"}
        ) as response:
            assert response.status == 200
            assert_hardened(response.headers, cache="public, max-age=300")


async def test_proxied_responses_say_authgate_and_keep_their_own_headers(
    scripted_upstream: Callable[..., Awaitable[ScriptedUpstream]],
    gateway_factory: Callable[..., Gateway],
) -> None:
    upstream = await scripted_upstream(
        b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.41 (Ubuntu)\r\n"
        b"Content-Security-Policy: default-src 'self'\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\nok"
    )
    gateway = gateway_factory({"routes": [public_route(upstream.url)]})
    request = b"GET /x HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n"
    status, headers, body = await raw_request(gateway.port, request)
    assert (status, body) == (200, b"ok")
    assert headers["server"] == "authgate"
    # The application's own policy passes untouched; the gateway adds none of its own.
    assert headers["content-security-policy"] == "default-src 'self'"
    assert "x-frame-options" not in headers and "referrer-policy" not in headers


async def test_an_upstream_without_server_header_gets_no_aiohttp_version(
    plain_gateway: Gateway,
) -> None:
    # The echo upstream is aiohttp itself: its `Server` names Python and aiohttp.
    request = b"GET /x HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n"
    status, headers, _ = await raw_request(plain_gateway.port, request)
    assert status == 200
    assert headers["server"] == "authgate"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/nothing"])
async def test_the_admin_listener_names_no_version(plain_gateway: Gateway, path: str) -> None:
    config = plain_gateway.config_path.read_text()
    admin = re.search(r"admin_listen: (\S+)", config)
    assert admin is not None
    host, _, port = admin.group(1).rpartition(":")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    _, headers, _ = await raw_request(int(port), request, host=host)
    assert headers.get("server") == "authgate"


PARSER_REFUSALS = [
    b"GET /x HTTP/1.1\r\nHost: echo.test\r\nHost: other.test\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: echo.test\r\nBad Header: x\r\n\r\n",
    b"GET /\x01 HTTP/1.1\r\nHost: echo.test\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", PARSER_REFUSALS)
async def test_parser_refusals_name_no_version(plain_gateway: Gateway, request_bytes: bytes) -> None:
    status, headers, _ = await raw_request(plain_gateway.port, request_bytes)
    assert 400 <= status < 500
    assert_no_version(headers.get("server"))


async def test_login_redirects_denied_page_and_logout_are_hardened(
    login_gateway: Callable[..., Gateway],
) -> None:
    # Alice logs in fine but the route's policy lets nobody in: the denied page.
    gateway = login_gateway(route={"policy": {"allow": [{"groups": ["nobody-is-here"]}]}})
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        async with client.get(f"{gateway.url}/app", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            assert_hardened(r.headers)
            start = r.headers["Location"]
        async with client.get(f"{gateway.url}{start}", allow_redirects=False) as r:
            assert r.status == 302  # off to the provider
            assert_hardened(r.headers)
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        assert "code=" in callback
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            assert_hardened(r.headers)  # Referrer-Policy: the code stays out of Referer
            landing = r.headers["Location"]
        async with client.get(landing, headers=BROWSER, allow_redirects=False) as r:
            body = await r.text()
            assert r.status == 403
            assert "Access denied" in body
            assert_hardened(r.headers, body)
        # The same callback again: a refusal page, hardened too.
        async with client.get(callback, headers=BROWSER, allow_redirects=False) as r:
            body = await r.text()
            assert r.status == 400
            assert_hardened(r.headers, body)
        async with client.get(
            f"{gateway.url}/.authgate/logout", headers=BROWSER, allow_redirects=False
        ) as r:
            body = await r.text()
            assert r.status == 200  # the confirmation page
            assert_hardened(r.headers, body)
        (form,) = parse_forms(body)[0]
        async with client.post(
            f"{gateway.url}/.authgate/logout", data=form["fields"], allow_redirects=False
        ) as r:
            assert r.status == 303  # the logout itself, off to the provider
            assert_hardened(r.headers)
