"""The login flow against the real OpenID Provider, driven by an HTTP client."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import aiohttp

from authgate.upstream import AssertionVerifier
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider, login_at_provider

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def header(echo: dict[str, object], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]  # type: ignore[attr-defined]


async def log_in(client: aiohttp.ClientSession, gateway: Gateway, path: str, user: str = "alice") -> str:
    """Open `path` unauthenticated, log in at the provider, come back; return the landing URL."""
    async with client.get(f"{gateway.url}{path}", headers=BROWSER, allow_redirects=False) as r:
        assert r.status == 302
        start = r.headers["Location"]
    assert start.startswith("/.authgate/start?rd=")
    callback = await login_at_provider(client, f"{gateway.url}{start}", user, f"{user}-password")
    assert callback.startswith(f"{gateway.url}/.authgate/callback?")
    async with client.get(callback, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        return r.headers["Location"]


async def test_login_lands_on_the_exact_url_with_identity_upstream(
    login_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider
) -> None:
    gateway = login_gateway()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        landing = await log_in(client, gateway, "/reports/q3?year=2026&x=%20y")
        assert landing == f"{gateway.url}/reports/q3?year=2026&x=%20y"
        spoofed = {"X-Authgate-User": "mallory", "X_Authgate_Email": "m@evil.test", "x-employee-name": "Eve"}
        async with client.get(landing, headers={"Accept": "application/json", **spoofed}) as r:
            assert r.status == 200
            echo = await r.json()
    assert header(echo, "X-Authgate-User") == ["alice"]
    assert header(echo, "X-Authgate-Email") == ["alice@example.com"]
    assert header(echo, "X-Authgate-Provider") == ["corp"]
    assert header(echo, "X-Employee-Name") == ["Alice"]
    assert "hr-staff" in header(echo, "X-Authgate-Groups")[0]
    assert header(echo, "X_Authgate_Email") == []
    cookies = header(echo, "Cookie")
    assert all("authgate" not in c for c in cookies)  # the session id never goes upstream
    (assertion,) = header(echo, "X-Authgate-Assertion")
    verifier = AssertionVerifier(f"{gateway.url}/.authgate/jwks.json", audience="app")
    claims = await verifier.verify(assertion)
    assert claims["sub"] and claims["email"] == "alice@example.com"
    assert claims["aud"] == "app"
    records = gateway.decisions(6)
    allowed = [r for r in records if r["decision"] == "allow" and r["route"] == "app"]
    assert allowed[-1]["user"] == "alice" and allowed[-1]["provider"] == "corp"
    assert allowed[-1]["reason"] == "user-authenticated"


async def test_session_cookie_is_httponly_lax_and_new_each_login(
    login_gateway: Callable[..., Gateway],
) -> None:
    gateway = login_gateway()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        async with client.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        async with client.get(callback, allow_redirects=False) as r:
            set_cookie = [v for k, v in r.headers.items() if k.lower() == "set-cookie"]
        first = {c.key: c.value for c in jar if c.key == "authgate"}
        # Logging in again while signed in (e.g. step-up) must also get a new id.
        again = await login_at_provider(
            client, f"{gateway.url}/.authgate/start?rd=/y", "alice", "alice-password"
        )
        async with client.get(again, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == f"{gateway.url}/y"
        second = {c.key: c.value for c in jar if c.key == "authgate"}
    session_line = next(c for c in set_cookie if c.startswith("authgate="))
    assert "HttpOnly" in session_line and "SameSite=Lax" in session_line and "Path=/" in session_line
    assert first["authgate"] != second["authgate"]


async def test_unauthenticated_api_calls_get_401_not_a_redirect(
    login_gateway: Callable[..., Gateway],
) -> None:
    gateway = login_gateway()
    cases = [
        ("GET", {"Accept": "application/json"}),
        ("GET", {**BROWSER, "X-Requested-With": "XMLHttpRequest"}),
        ("GET", {**BROWSER, "Sec-Fetch-Mode": "cors"}),
        ("POST", BROWSER),
    ]
    async with aiohttp.ClientSession() as client:
        for method, headers in cases:
            async with client.request(
                method, f"{gateway.url}/api/x", headers=headers, allow_redirects=False
            ) as r:
                assert r.status == 401, (method, headers)
                assert r.headers["WWW-Authenticate"].startswith("Session")
        async with client.get(f"{gateway.url}/public/p", allow_redirects=False) as r:
            assert r.status == 200


async def test_callback_without_the_login_cookie_is_refused(
    login_gateway: Callable[..., Gateway],
) -> None:
    gateway = login_gateway()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as victim:
        async with victim.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(victim, f"{gateway.url}{start}", "alice", "alice-password")
    # The attacker's callback URL opened in another browser (login CSRF) is refused.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        async with other.get(callback, headers={"Accept": "application/json"}, allow_redirects=False) as r:
            assert r.status == 400
            assert (await r.json())["reason"] == "login-state-mismatch"


async def test_replayed_callback_is_refused(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        login_cookies = {c.key: c.value for c in client.cookie_jar}
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302
        client.cookie_jar.update_cookies(login_cookies)
        async with client.get(callback, headers={"Accept": "application/json"}, allow_redirects=False) as r:
            assert r.status == 400
            assert (await r.json())["reason"] == "login-state-expired"


async def test_callback_with_a_wrong_iss_is_refused(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["iss"] = "http://127.0.0.9:1/evil"  # RFC 9207 mix-up
        async with client.get(
            f"{gateway.url}/.authgate/callback", params=query,
            headers={"Accept": "application/json"}, allow_redirects=False,
        ) as r:
            assert r.status == 400
            assert (await r.json())["reason"] == "login-iss-mismatch"


async def test_userinfo_and_jwks_endpoints(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{gateway.url}/.authgate/userinfo") as r:
            assert r.status == 401
        await log_in(client, gateway, "/")
        async with client.get(f"{gateway.url}/.authgate/userinfo") as r:
            info = json.loads(await r.text())
        async with client.get(f"{gateway.url}/.authgate/jwks.json") as r:
            jwks = await r.json()
        async with client.get(f"{gateway.url}/.authgate/nothing-here") as r:
            assert r.status == 404
    assert info["email"] == "alice@example.com" and info["provider"] == "corp"
    assert jwks["keys"] and all(k["kty"] == "EC" and k["alg"] == "ES256" for k in jwks["keys"])
