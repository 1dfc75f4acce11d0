"""Gateways that hear the test transmitter, and sessions made by the real login."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from tests.login.test_login_flow import BROWSER
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider, login_at_provider
from tests.testbed.transmitter import POLL_TOKEN, PUSH_TOKEN, Transmitter

API = {"Accept": "application/json"}


def signals_block(transmitter: Transmitter, delivery: str = "push", **extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"transmitter": transmitter.issuer, "audience": "https://gateway.test/", "delivery": delivery}
    if delivery == "push":
        block["push_token"] = PUSH_TOKEN
    else:
        block |= {"poll_url": transmitter.poll_url, "poll_token": POLL_TOKEN, "poll_interval": "2s"}
    return block | extra


def with_signals(config: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    config["providers"][0]["signals"] = block
    # These tests log in dozens of times from one address: no login rate limit.
    config["limits"] = {"login": None}
    return config


async def log_in(gateway: Gateway, user: str = "bob") -> dict[str, str]:
    """The session cookie of a login at the real provider through `gateway`."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{gateway.url}/x", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(browser, f"{gateway.url}{start}", user, f"{user}-password")
        async with browser.get(callback, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
    return {c.key: c.value for c in jar if c.key == "authgate"}


async def status_with(gateway: Gateway, cookies: dict[str, str]) -> int:
    async with aiohttp.ClientSession(cookies=cookies) as api:
        async with api.get(f"{gateway.url}/api", headers=API) as r:
            return r.status


async def userinfo(gateway: Gateway, cookies: dict[str, str]) -> dict[str, Any]:
    async with aiohttp.ClientSession(cookies=cookies) as api:
        async with api.get(f"{gateway.url}/.authgate/userinfo", headers=API) as r:
            assert r.status == 200, r.status
            body: dict[str, Any] = await r.json()
            return body


def signal_records(gateway: Gateway, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The records security events left (rule `signal:*`), once `count` are written."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in gateway.decisions(0) if (r["rule"] or "").startswith("signal:")]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def iss_sub(provider: OIDCProvider, sub: str = "bob") -> dict[str, str]:
    return {"format": "iss_sub", "iss": provider.issuer, "sub": sub}
