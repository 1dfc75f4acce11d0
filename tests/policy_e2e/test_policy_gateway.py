"""Policies, step-up and consent through a real gateway and the real OpenID Provider."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.login.test_login_flow import BROWSER
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import login_at_provider

API = {"Accept": "application/json"}


async def sign_in(
    client: aiohttp.ClientSession, gateway: Gateway, path: str, user: str, **login: Any
) -> aiohttp.ClientResponse:
    """Follow the gateway to the provider and back; return the landing response."""
    start = f"{gateway.url}/.authgate/start?rd={gateway.url}{path}"
    callback = await login_at_provider(client, start, user, f"{user}-password", **login)
    async with client.get(callback, allow_redirects=False, headers=API) as r:
        await r.read()
        return r


async def test_groups_policy_allows_alice_and_denies_bob(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway(route={"policy": {"allow": [{"groups": ["hr-staff"]}]}})
    for user, status in (("alice", 200), ("bob", 403)):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            assert (await sign_in(client, gateway, "/payroll", user)).status == 302
            async with client.get(f"{gateway.url}/payroll", headers=BROWSER) as r:
                page = await r.text()
                assert r.status == status, user
    assert "Access denied" in page and "bob" in page  # the denied page says who and why
    record = [r for r in gateway.decisions(8) if r["user"] == "bob" and r["path"] == "/payroll"][-1]
    assert record["decision"] == "deny"
    assert record["rule"] is None and "groups-unauthorized" in record["reason"]


async def test_step_up_for_admin_paths_and_stale_elevation(
    login_gateway: Callable[..., Gateway],
) -> None:
    step_up = {"paths": ["/admin/**"], "acr": "mfa", "max_age": "4s"}
    gateway = login_gateway(route={"step_up": step_up})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await sign_in(client, gateway, "/", "alice")  # password only: acr=pwd
        async with client.get(f"{gateway.url}/admin/users", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            start = r.headers["Location"]
        query = parse_qs(urlsplit(start).query)
        assert query["step_up"] == ["1"] and query["acr_values"] == ["mfa"] and query["max_age"] == ["4"]
        async with client.get(f"{gateway.url}/admin/users", headers=API) as r:
            assert r.status == 401  # an API call is told, not redirected
        # The step-up login at the provider: prompt=login and acr_values=mfa were sent.
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password", otp="123456")
        provider_query = parse_qs(urlsplit(callback).query)
        assert "code" in provider_query
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == f"{gateway.url}/admin/users"
        async with client.get(f"{gateway.url}/admin/users", headers=API) as r:
            assert r.status == 200
            echo = await r.json()
        assert [v for k, v in echo["headers"] if k == "X-Authgate-Acr"] == ["mfa"]
        await asyncio.sleep(4.5)  # the elevation is stale now (max_age 4 s) ...
        async with client.get(f"{gateway.url}/admin/users", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302 and "step_up=1" in r.headers["Location"]
        async with client.get(f"{gateway.url}/reports", headers=API) as r:
            assert r.status == 200  # ... while other paths keep working
    steps = [r for r in gateway.decisions(10) if r["decision"] == "step_up"]
    assert steps and steps[0]["rule"] == "routes[app].step_up"  # a single block: no index


async def test_step_up_login_without_mfa_is_refused(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway(route={"step_up": {"paths": ["/admin/**"], "acr": "mfa"}})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await sign_in(client, gateway, "/", "alice")
        async with client.get(f"{gateway.url}/admin/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        async with client.get(callback, headers=API, allow_redirects=False) as r:
            assert r.status == 403
            assert (await r.json())["reason"] == "step-up-failed"


async def test_missing_consent_goes_to_the_consent_page(login_gateway: Callable[..., Gateway]) -> None:
    consent = {"require": ["terms-2026"], "claim": "consents", "url": "https://id.example.com/consent"}
    gateway = login_gateway(route={"audience": "customer", "consent": consent})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await sign_in(client, gateway, "/", "alice")
        async with client.get(f"{gateway.url}/shop?x=1", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            location = r.headers["Location"]
        async with client.get(f"{gateway.url}/shop", headers=API) as r:
            assert r.status == 403 and (await r.json())["reason"] == "consent-required"
    assert location.startswith("https://id.example.com/consent?return_to=")
    assert parse_qs(urlsplit(location).query)["return_to"] == [f"{gateway.url}/shop?x=1"]
    record = gateway.decisions(5)[-1]
    assert (record["decision"], record["reason"]) == ("deny", "consent-required")


async def test_workforce_audience_requires_mfa_by_default(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway(route={"audience": "workforce"})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await sign_in(client, gateway, "/", "alice")  # no otp: amr=[pwd]
        async with client.get(f"{gateway.url}/", headers=API) as r:
            assert r.status == 401  # a step-up to MFA, not a dead-end 403
            assert (await r.json())["reason"] == "mfa-required"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await sign_in(client, gateway, "/", "alice", otp="123456")
        async with client.get(f"{gateway.url}/", headers=API) as r:
            assert r.status == 200
    assert time.time() > 0
