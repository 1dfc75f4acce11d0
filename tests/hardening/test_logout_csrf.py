"""Logout is a POST with a CSRF token, never a cross-site GET side effect.

End to end against the real gateway and the real OpenID Provider: a signed-in user
whose browser is made to GET `/.authgate/logout` (an `<img>`, a link, a frame, a
fetch) stays signed in; a POST without the session's token, with a wrong one, or from
another origin is refused with 403 and a record, and the session lives on; the POST
from the confirmation page ends the session and follows the provider's RP-initiated
logout; the provider's back-channel logout (a POST with no cookie) still works.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from authgate.sessions.keys import SessionKeys, b64url, new_session_id
from tests.hardening.signin import (
    JSON,
    first_record,
    login_gateway_at,
    logout_form,
    record_for,
    session_alive,
    session_cookies,
    signed_in,
)
from tests.login.test_login_flow import BROWSER, log_in
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET, login_config
from tests.testbed.oidc import OIDCProvider, parse_forms
from tests.testbed.ports import free_port

LOGOUT = "/.authgate/logout"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def gateway(oidc_provider: OIDCProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = login_gateway_at(oidc_provider, tmp_path_factory.mktemp("logout-gateway"))
    yield gateway
    gateway.stop()


def cleared_cookies(response: aiohttp.ClientResponse) -> list[str]:
    return [v for v in response.headers.getall("Set-Cookie", []) if v.startswith("authgate=")]


def session_id(cookies: dict[str, str]) -> str:
    return cookies["authgate"].partition(".")[0]


# --- GET never logs out ---------------------------------------------------------------

CROSS_SITE_GETS = [
    pytest.param("GET", {"Accept": "image/avif,image/*", "Sec-Fetch-Site": "cross-site",
                         "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image",
                         "Referer": f"{EVIL}/"}, id="img-tag"),
    pytest.param("GET", {**BROWSER, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                         "Sec-Fetch-Dest": "document", "Referer": f"{EVIL}/"}, id="link"),
    pytest.param("GET", {**BROWSER, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                         "Sec-Fetch-Dest": "iframe"}, id="iframe"),
    pytest.param("GET", {**JSON, "Origin": EVIL, "Sec-Fetch-Site": "cross-site",
                         "Sec-Fetch-Mode": "cors"}, id="fetch"),
    pytest.param("GET", {"Accept": "*/*"}, id="no-metadata"),
    pytest.param("GET", {**BROWSER, "Sec-Fetch-Site": "same-origin"}, id="same-origin-link"),
    pytest.param("HEAD", BROWSER, id="head"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "headers"), CROSS_SITE_GETS)
async def test_a_get_of_logout_ends_nothing(gateway: Gateway, method: str, headers: dict[str, str]) -> None:
    async with signed_in(gateway) as client:
        cookies = session_cookies(client)
        token = SessionKeys.from_secrets([COOKIE_SECRET]).csrf_token(session_id(cookies))
        # Even the right token in the query string does not turn a GET into a logout.
        url = f"{gateway.url}{LOGOUT}?csrf_token={token}"
        async with client.request(method, url, headers=headers, allow_redirects=False) as r:
            assert r.status == 200
            assert cleared_cookies(r) == []
            request_id = r.headers["X-Request-Id"]
            body = await r.text()
        assert await session_alive(gateway, cookies)
    if method == "GET":
        assert f'<form method="post" action="{LOGOUT}">' in body
        assert "<script" not in body.lower()
    record = record_for(gateway, request_id)
    assert (record["reason"], record["decision"], record["status"]) == ("logout-confirm", "allow", 200)
    assert record["user"] == "alice"


@pytest.mark.parametrize(
    "cookies", [{}, {"authgate": "forged.value"}, {"authgate": f"{new_session_id()}.{'A' * 43}"}],
    ids=["no-cookie", "malformed-cookie", "forged-cookie"],
)
async def test_signed_out_get_shows_the_logged_out_page(gateway: Gateway, cookies: dict[str, str]) -> None:
    async with aiohttp.ClientSession(cookies=cookies) as client:
        async with client.get(f"{gateway.url}{LOGOUT}", headers=BROWSER) as r:
            assert r.status == 200
            body = await r.text()
            request_id = r.headers["X-Request-Id"]
            assert cleared_cookies(r) == []
    assert "You are signed out" in body and "<form" not in body
    assert record_for(gateway, request_id)["reason"] == "gateway-endpoint"


# --- POST needs the session's token ----------------------------------------------------


def other_secret_token(sid: str) -> str:
    return SessionKeys.from_secrets(["another-secret-0123456789abcdefghijklmnop"]).csrf_token(sid)


def other_session_token(sid: str) -> str:
    return SessionKeys.from_secrets([COOKIE_SECRET]).csrf_token(new_session_id())


# Each case: how the request carries (or fails to carry) a token, given the right one
# and the session id. Every one must be refused.
BAD_TOKENS: list[Any] = [
    pytest.param(lambda good, sid: {"data": {}}, id="missing"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": ""}}, id="empty"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": b64url(secrets.token_bytes(32))}}, id="random"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": good[:-1]}}, id="truncated"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": good + "A"}}, id="extended"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": good.swapcase()}}, id="case-flipped"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": "\u00e9" * 43}}, id="non-ascii"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": sid}}, id="session-id"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": other_session_token(sid)}}, id="other-session"),
    pytest.param(lambda good, sid: {"data": {"csrf_token": other_secret_token(sid)}}, id="other-secret"),
    pytest.param(lambda good, sid: {"data": {"token": good}}, id="wrong-field"),
    pytest.param(lambda good, sid: {"params": {"csrf_token": good}}, id="in-query"),
    pytest.param(lambda good, sid: {"json": {"csrf_token": good}}, id="json-body"),
    pytest.param(lambda good, sid: {"headers": {"X-CSRF-Token": good}}, id="header"),
    pytest.param(lambda good, sid: {"data": b"csrf_token=\xff\xfe",
                                    "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
                 id="not-utf8"),
]  # fmt: skip


@pytest.mark.parametrize("carry", BAD_TOKENS)
async def test_a_post_without_the_sessions_token_is_refused(
    gateway: Gateway, carry: Callable[[str, str], dict[str, Any]]
) -> None:
    async with signed_in(gateway) as client:
        good = (await logout_form(client, gateway))["fields"]["csrf_token"]
        cookies = session_cookies(client)
        options = carry(good, session_id(cookies))
        headers = {**JSON, **options.pop("headers", {})}
        async with client.post(f"{gateway.url}{LOGOUT}", headers=headers, allow_redirects=False, **options) as r:
            assert r.status == 403, await r.text()
            assert cleared_cookies(r) == []
            answer = await r.json()
        assert await session_alive(gateway, cookies)
    assert answer["reason"] == "csrf-invalid"
    record = record_for(gateway, answer["request_id"])
    assert (record["reason"], record["decision"], record["status"]) == ("csrf-invalid", "deny", 403)
    assert record["method"] == "POST" and record["path"] == LOGOUT


def fill(headers: dict[str, str], gateway: Gateway) -> dict[str, str]:
    """Header templates: `{own}` is the gateway's origin, `{port}` its port."""
    return {k: v.format(own=gateway.url, port=gateway.port, other=free_port()) for k, v in headers.items()}


CROSS_ORIGINS = [
    pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": EVIL}, id="cross-site"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site-no-origin"),
    pytest.param({"Sec-Fetch-Site": "same-site", "Origin": "http://sibling.127.0.0.1.nip.io"}, id="same-site"),
    pytest.param({"Sec-Fetch-Site": "none"}, id="user-initiated"),
    pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": "{own}"}, id="fetch-metadata-wins"),
    pytest.param({"Origin": EVIL}, id="origin"),
    pytest.param({"Origin": "http://127.0.0.1:{other}"}, id="origin-other-port"),
    pytest.param({"Origin": "https://127.0.0.1:{port}"}, id="origin-other-scheme"),
    pytest.param({"Origin": "http://127.0.0.1"}, id="origin-default-port"),
    pytest.param({"Origin": "http://127.0.0.1.evil.example:{port}"}, id="origin-suffix"),
]  # fmt: skip


@pytest.mark.parametrize("headers", CROSS_ORIGINS)
async def test_a_cross_site_post_is_refused_even_with_the_token(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    async with signed_in(gateway) as client:
        form = await logout_form(client, gateway)
        cookies = session_cookies(client)
        async with client.post(
            f"{gateway.url}{LOGOUT}", data=form["fields"], headers={**JSON, **fill(headers, gateway)},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
            assert cleared_cookies(r) == []
            answer = await r.json()
        assert await session_alive(gateway, cookies)
    assert answer["reason"] == "csrf-cross-site"
    record = record_for(gateway, answer["request_id"])
    assert (record["reason"], record["decision"], record["status"]) == ("csrf-cross-site", "deny", 403)


# --- the real logout ----------------------------------------------------------------------


SAME_ORIGINS = [
    pytest.param({}, id="no-metadata"),  # curl, or a browser that sends neither header
    pytest.param({"Origin": "{own}", "Sec-Fetch-Site": "same-origin"}, id="browser"),
    # Referrer-Policy: no-referrer makes a browser send Origin: null for its own POST.
    pytest.param({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, id="no-referrer"),
    pytest.param({"Origin": "null"}, id="null-origin"),
    pytest.param({"Origin": "HTTP://127.0.0.1:{port}"}, id="origin-case"),
    pytest.param({"Sec-Fetch-Site": "same-origin"}, id="fetch-metadata-only"),
]


@pytest.mark.parametrize("headers", SAME_ORIGINS)
async def test_the_post_with_the_token_logs_out_and_sends_to_the_provider(
    gateway: Gateway, oidc_provider: OIDCProvider, headers: dict[str, str]
) -> None:
    headers = fill(headers, gateway)
    async with signed_in(gateway) as client:
        form = await logout_form(client, gateway)
        assert urljoin(gateway.url, form["action"]) == f"{gateway.url}{LOGOUT}"
        cookies = session_cookies(client)
        async with client.post(
            f"{gateway.url}{LOGOUT}", data=form["fields"], headers={**BROWSER, **headers},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, await r.text()
            location = r.headers["Location"]
            assert cleared_cookies(r), "the session cookie is cleared"
            request_id = r.headers["X-Request-Id"]
        assert not await session_alive(gateway, cookies)
    end_session, _, query = location.partition("?")
    assert end_session == oidc_provider.endpoint("session/end")
    params = parse_qs(query)
    assert params["post_logout_redirect_uri"] == [f"{gateway.url}/.authgate/logged-out"]
    assert params["client_id"] == [oidc_provider.client_id] and params["id_token_hint"][0].count(".") == 2
    record = record_for(gateway, request_id)
    assert (record["reason"], record["decision"], record["status"]) == ("logout", "allow", 303)
    assert record["user"] == "alice"


async def test_the_providers_end_session_flow_is_followed_to_the_logged_out_page(
    gateway: Gateway, oidc_provider: OIDCProvider
) -> None:
    async with signed_in(gateway) as client:
        form = await logout_form(client, gateway)
        async with client.post(f"{gateway.url}{LOGOUT}", data=form["fields"], allow_redirects=False) as r:
            end_session = r.headers["Location"]
        async with client.get(end_session, allow_redirects=False) as r:
            assert r.status == 200  # the provider asks to confirm
            forms, _ = parse_forms(await r.text())
        confirm = next(f for f in forms if "xsrf" in f["fields"])
        async with client.post(
            urljoin(end_session, confirm["action"]), data={**confirm["fields"], "logout": "yes"},
            allow_redirects=False,
        ) as r:
            assert r.status in (302, 303)
            back = r.headers["Location"]
        assert urlsplit(back).path == "/.authgate/logged-out"
        assert back.startswith(f"{gateway.url}/")
        async with client.get(back) as r:
            assert r.status == 200 and "You are signed out" in await r.text()
        # The provider's session is over too: signing in again asks for a password.
        async with client.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=True) as r:
            assert urlsplit(str(r.url)).path.startswith("/interaction/")
            assert 'name="password"' in await r.text()


async def test_a_post_without_a_session_goes_to_the_logged_out_page(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{gateway.url}{LOGOUT}", data={"csrf_token": "x"}, allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/.authgate/logged-out"
            assert record_for(gateway, r.headers["X-Request-Id"])["reason"] == "gateway-endpoint"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_other_methods_are_not_allowed(gateway: Gateway, method: str) -> None:
    async with signed_in(gateway) as client:
        cookies = session_cookies(client)
        async with client.request(method, f"{gateway.url}{LOGOUT}", headers=JSON) as r:
            assert r.status == 405
            assert r.headers["Allow"] == "GET, HEAD, POST"
            answer = await r.json()
        assert await session_alive(gateway, cookies)
    assert record_for(gateway, answer["request_id"])["reason"] == "method-not-allowed"


# --- back-channel logout: a POST from the provider, no cookie, no token ----------------------


async def test_back_channel_logout_still_ends_the_session(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    port = free_port()
    client_meta = oidc_provider.register_client(
        redirect_uris=[f"http://127.0.0.1:{port}/.authgate/callback"],
        post_logout_redirect_uris=[f"http://127.0.0.1:{port}/.authgate/logged-out"],
        backchannel_logout_uri=f"http://127.0.0.1:{port}/.authgate/backchannel-logout",
    )
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = login_config(oidc_provider, upstream, tmp_path / "keys.pem", client=client_meta)
    config["server"] = {"listen": f"127.0.0.1:{port}"}
    gateway = gateway_factory(config)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await log_in(browser, gateway, "/x", "bob")
        cookies = session_cookies(browser)
        assert await session_alive(gateway, cookies)
        # Sign out at the provider itself: it POSTs a logout_token to the gateway.
        async with browser.get(oidc_provider.endpoint("session/end"), allow_redirects=False) as r:
            forms, _ = parse_forms(await r.text())
        confirm = next(f for f in forms if "xsrf" in f["fields"])
        async with browser.post(
            urljoin(oidc_provider.issuer + "/", confirm["action"]),
            data={**confirm["fields"], "logout": "yes"}, allow_redirects=False,
        ) as r:
            assert r.status in (302, 303, 200)
    # The provider calls the gateway on its own schedule: wait for that record.
    record = first_record(gateway, lambda r: r["path"] == "/.authgate/backchannel-logout")
    assert (record["reason"], record["method"], record["status"]) == ("backchannel-logout", "POST", 200)
    assert not await session_alive(gateway, cookies)
