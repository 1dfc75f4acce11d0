"""Login and session failures, end to end: rejected codes, bad cookies, redirects.

Against the real gateway: the real OpenID Provider for codes that were already used,
made up or issued to another login (`code-rejected`, 400, counted by the login
regulator) and for a misconfigured client (502, an operator problem, not counted);
session cookies in every bad shape (`session-invalid`, cleared) and ended sessions
(`session-expired`); the rogue provider for discovery and JWKS answers that redirect
(never followed) and for endpoints on another host (logged once at start).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from authgate.sessions.keys import SessionKeys, new_session_id
from tests.oidc.rogue import RogueProvider, mint, rsa_key
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET, login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
API = {"Accept": "application/json"}
OTHER_SECRET = "another-cookie-secret-0123456789abcdefghij"


def record_of(gateway: Gateway, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [r for r in gateway.decisions(0) if r["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no decision record for {request_id}")


async def wait_for_log(gateway: Gateway, text: str, timeout: float = 6.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in gateway.stderr():
            return gateway.stderr()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} not logged:\n{gateway.stderr()[-3000:]}")


@pytest.fixture
def make_gateway(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Callable[..., Gateway]:
    """A login gateway (route `app`) with config changes applied to its dict."""

    def make(**top: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        config = login_config(oidc_provider, upstream, tmp_path / "k.pem")
        provider = top.pop("provider", {})
        config["providers"][0].update(provider)
        config.update(top)
        return gateway_factory(config)

    return make


async def callback_url(
    client: aiohttp.ClientSession, gateway: Gateway, user: str = "alice", rd: str = "/x"
) -> str:
    """Start a login in `client`, log in at the provider, return the callback URL."""
    start = f"{gateway.url}/.authgate/start?" + urlencode({"rd": f"{gateway.url}{rd}"})
    url = await login_at_provider(client, start, user, f"{user}-password")
    assert url.startswith(f"{gateway.url}/.authgate/callback?"), url
    return url


def with_code(url: str, code: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"code": code}
    return urlunsplit(parts._replace(query=urlencode(query)))


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["code"][0]


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


# ---------------------------------------------------------------- authorization codes


async def test_rejected_codes_answer_400_and_count_towards_a_ban(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(
        limits={"login": None, "regulation": {"max_failures": 3, "find_time": "1m", "ban_time": "1m"}}
    )
    async with browser() as victim, browser() as attacker:
        first = await callback_url(victim, gateway)
        async with victim.get(first, allow_redirects=False) as r:
            assert r.status == 302  # code spent
        # The attacker's own, unredeemed code: bound to the attacker's PKCE verifier.
        injected = code_of(await callback_url(attacker, gateway, "bob"))
        for code in (code_of(first), "made-up-code-0123456789", injected):
            url = with_code(await callback_url(victim, gateway), code)
            async with victim.get(url, headers=API, allow_redirects=False) as r:
                body = await r.json()
                assert r.status == 400, body
                assert body["reason"] == "code-rejected"
                record = record_of(gateway, r.headers["X-Request-Id"])
            assert (record["decision"], record["status"]) == ("deny", 400)
            assert record["rule"] == "endpoint:callback"
        # Three failures from this address: the login endpoints now refuse it.
        async with victim.get(f"{gateway.url}/.authgate/start", headers=API, allow_redirects=False) as r:
            assert r.status == 429 and (await r.json())["reason"] == "login-banned"
    log = gateway.stderr()
    assert log.count("INFO authgate.server.login: login refused: code-rejected") == 3
    assert not re.search(r"WARNING .*code-rejected", log)
    assert "banned ip 127.0.0.1 after repeated failed logins" in log


async def test_a_misconfigured_client_is_an_operator_problem_not_counted(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(
        # par: off — with PAR the wrong secret is refused at the push, before any code.
        provider={"client_secret": "not-the-secret-the-provider-knows", "par": "off"},
        limits={"login": None, "regulation": {"max_failures": 2, "find_time": "1m", "ban_time": "1m"}},
    )
    async with browser() as client:
        for _ in range(3):
            async with client.get(await callback_url(client, gateway), headers=API, allow_redirects=False) as r:
                body = await r.json()
                assert r.status == 502, body
                assert body["reason"] == "token-exchange-failed"  # invalid_client
        async with client.get(f"{gateway.url}/.authgate/start", allow_redirects=False) as r:
            assert r.status == 302  # never banned: the user did nothing wrong
    assert gateway.stderr().count("WARNING authgate.server.login: login failed: token-exchange-failed") == 3


# ---------------------------------------------------------------- session cookies


async def logged_in_cookie(gateway: Gateway) -> str:
    async with browser() as client:
        async with client.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302
        return next(c.value for c in client.cookie_jar if c.key == "authgate")


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


BAD_COOKIES: dict[str, Callable[[str], str]] = {
    "mac-tampered": lambda v: _flip(v, len(v) - 2),
    "id-tampered": lambda v: _flip(v, 3),
    "truncated-by-one": lambda v: v[:-1],
    "truncated-to-id": lambda v: v.partition(".")[0],
    "truncated-to-half": lambda v: v[: len(v) // 2],
    "other-secret": lambda v: SessionKeys.from_secrets([OTHER_SECRET]).sign_session_id(v.partition(".")[0]),
    "mac-of-other-id": lambda v: f"{new_session_id()}.{v.partition('.')[2]}",
    "garbage": lambda v: "not-a-session-cookie",
    "extra-dot": lambda v: v + ".x",
}


async def ask(gateway: Gateway, cookie: str, headers: dict[str, str]) -> tuple[aiohttp.ClientResponse, dict[str, Any]]:
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{gateway.url}/x", headers={**headers, "Cookie": f"authgate={cookie}"}, allow_redirects=False
        ) as r:
            await r.read()
            return r, record_of(gateway, r.headers["X-Request-Id"])


def assert_cleared(response: aiohttp.ClientResponse) -> None:
    lines = [v for k, v in response.headers.items() if k.lower() == "set-cookie"]
    cleared = [line for line in lines if line.startswith("authgate=")]
    assert cleared and "Max-Age=0" in cleared[0], lines


async def test_bad_session_cookies_are_session_invalid_and_cleared(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway()
    valid = await logged_in_cookie(gateway)
    for name, spoil in BAD_COOKIES.items():
        cookie = spoil(valid)
        assert cookie != valid
        response, record = await ask(gateway, cookie, BROWSER)
        assert response.status == 302, name
        assert response.headers["Location"].startswith("/.authgate/start?rd="), name
        assert_cleared(response)
        assert record["decision"] == "login", name
        reasons = record["reason"].split(",")
        assert reasons[0] == "session-invalid" and "user-unauthenticated" not in reasons, (name, reasons)
        response, record = await ask(gateway, cookie, API)
        assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Session")
        assert_cleared(response)
        assert record["reason"].split(",")[0] == "session-invalid"
    # The good cookie still works, and no cookie at all is still "nobody came".
    response, record = await ask(gateway, valid, API)
    assert response.status == 200 and record["reason"] == "user-authenticated"
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/x", headers=API) as r:
            assert r.status == 401 and "set-cookie" not in {k.lower() for k in r.headers}
            assert record_of(gateway, r.headers["X-Request-Id"])["reason"] == "user-unauthenticated"


async def test_ended_sessions_are_session_expired_and_cleared(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(sessions={"idle_timeout": "1s"})
    valid = await logged_in_cookie(gateway)
    # A correctly signed id the store does not hold (expired, logged out, revoked):
    # the MAC proves the gateway issued it, so it ended — not a forgery.
    unknown = SessionKeys.from_secrets([COOKIE_SECRET]).sign_session_id(new_session_id())
    await asyncio.sleep(2.5)  # idle timeout 1 s, generous margin
    for cookie in (valid, unknown):
        response, record = await ask(gateway, cookie, BROWSER)
        assert response.status == 302
        assert_cleared(response)
        reasons = record["reason"].split(",")
        assert reasons[0] == "session-expired" and "user-unauthenticated" not in reasons, reasons


# ---------------------------------------------------------------- redirects, hosts


@pytest_asyncio.fixture
async def rogue_server() -> AsyncIterator[RogueProvider]:
    provider = RogueProvider(published=[rsa_key("rsa-1")])
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    yield provider
    await server.close()


@pytest.fixture
def rogue_gateway(
    rogue_server: RogueProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Callable[[], Gateway]:
    def make() -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        return gateway_factory(
            {
                "secrets": {"cookie_secret": COOKIE_SECRET, "assertion_keys": str(tmp_path / "k.pem")},
                "providers": [{"id": "rogue", "issuer": rogue_server.issuer, "client_id": "gateway"}],
                "routes": [
                    {
                        "id": "api",
                        "match": {"host": "127.0.0.1"},
                        "upstream": upstream,
                        "authenticate": ["bearer", "session"],
                        "bearer": {"audiences": ["api://x"]},
                    }
                ],
            }
        )

    return make


def access_token(rogue: RogueProvider) -> str:
    now = int(time.time())
    claims = {"iss": rogue.issuer, "sub": "svc", "aud": "api://x", "iat": now, "exp": now + 300}
    return mint(claims, rogue.published[0])


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target", ["same-origin", "other-origin"])
async def test_discovery_redirect_is_not_followed(
    rogue_gateway: Callable[[], Gateway], rogue_server: RogueProvider, status: int, target: str
) -> None:
    elsewhere = f"{rogue_server.issuer}/copy" if target == "same-origin" else "http://127.0.0.9:9/evil"
    rogue_server.redirects["/.well-known/openid-configuration"] = (status, elsewhere)
    gateway = rogue_gateway()
    log = await wait_for_log(gateway, "redirects are not followed")
    assert f"answered HTTP {status} redirecting to" in log and "provider rogue" in log
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/.authgate/start", headers=API, allow_redirects=False) as r:
            assert r.status == 502 and (await r.json())["reason"] == "provider-bad-response"
    assert rogue_server.discovery_fetches == 0


@pytest.mark.parametrize("status", [302, 307, 308])
async def test_jwks_redirect_is_not_followed(
    rogue_gateway: Callable[[], Gateway], rogue_server: RogueProvider, status: int
) -> None:
    rogue_server.discovery_overrides["jwks_uri"] = f"{rogue_server.issuer}/old-jwks"
    rogue_server.redirects["/old-jwks"] = (status, f"{rogue_server.issuer}/jwks")
    gateway = rogue_gateway()
    headers = {**API, "Authorization": f"Bearer {access_token(rogue_server)}"}
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/v1", headers=headers) as r:
            assert r.status == 401
            record = record_of(gateway, r.headers["X-Request-Id"])
    assert "provider-bad-response" in record["reason"]
    assert rogue_server.redirected and rogue_server.jwks_fetches == 0
    await wait_for_log(gateway, f"/old-jwks answered HTTP {status} redirecting to")


async def test_endpoints_on_another_host_are_allowed_and_logged_once(
    rogue_gateway: Callable[[], Gateway], rogue_server: RogueProvider
) -> None:
    port = urlsplit(rogue_server.issuer).port
    rogue_server.discovery_overrides["jwks_uri"] = f"http://localhost:{port}/jwks"
    rogue_server.discovery_overrides["end_session_endpoint"] = "https://logout.example.net/end"
    gateway = rogue_gateway()
    headers = {**API, "Authorization": f"Bearer {access_token(rogue_server)}"}
    async with aiohttp.ClientSession() as client:
        for _ in range(3):
            async with client.get(f"{gateway.url}/v1", headers=headers) as r:
                assert r.status == 200  # allowed: the keys come from the published URL
    log = await wait_for_log(gateway, "hosts other than the issuer")
    (line,) = [line for line in log.splitlines() if "hosts other than the issuer" in line]
    assert " WARNING " in line and "provider rogue" in line and f"127.0.0.1:{port}" in line
    assert f"jwks_uri on localhost:{port}" in line and "end_session_endpoint on logout.example.net" in line


async def test_endpoints_on_the_issuer_host_log_nothing(
    rogue_gateway: Callable[[], Gateway], rogue_server: RogueProvider
) -> None:
    gateway = rogue_gateway()
    headers = {**API, "Authorization": f"Bearer {access_token(rogue_server)}"}
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/v1", headers=headers) as r:
            assert r.status == 200
    assert rogue_server.discovery_fetches >= 1
    assert "hosts other than the issuer" not in gateway.stderr()


async def test_forward_auth_records_bad_session_cookies_the_same_way(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(server={"trusted_proxies": ["127.0.0.1/32"]})
    valid = await logged_in_cookie(gateway)
    forwarded = {"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "127.0.0.1", "X-Forwarded-Uri": "/x"}
    cases = {"valid": valid, "tampered": BAD_COOKIES["mac-tampered"](valid), "other-secret": BAD_COOKIES["other-secret"](valid)}
    async with aiohttp.ClientSession() as client:
        for name, cookie in cases.items():
            headers = {**API, **forwarded, "Cookie": f"authgate={cookie}"}
            async with client.get(f"{gateway.url}/.authgate/auth", headers=headers, allow_redirects=False) as r:
                record = record_of(gateway, r.headers["X-Request-Id"])
                if name == "valid":
                    assert r.status == 200 and record["reason"] == "user-authenticated"
                else:
                    assert r.status == 401, name
                    assert record["reason"].split(",")[0] == "session-invalid", (name, record)
                    assert_cleared(r)
