"""Helpers for the hardening tests that need a signed-in browser (logout, return URLs).

`login_gateway_at(provider, workdir)` starts one gateway (route `app` on 127.0.0.1,
login with the real OpenID Provider) for a module of tests; `signed_in(gateway)` is
an HTTP client with a fresh session; `session_alive` asks `/.authgate/userinfo`
whether the cookie still names a live session; `record_for` finds the decision
record of one request by its id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.login.test_login_flow import BROWSER, log_in
from tests.testbed.gateway import Gateway, start_gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, parse_forms

# Nothing listens there: these tests never need the app, only the gateway's answers.
NO_UPSTREAM = "http://127.0.0.1:9"
JSON = {"Accept": "application/json"}


def login_gateway_at(
    provider: OIDCProvider, workdir: Path, extra_routes: Sequence[dict[str, Any]] = ()
) -> Gateway:
    config = login_config(provider, NO_UPSTREAM, workdir / "assertion.pem")
    config["routes"].extend({"upstream": NO_UPSTREAM, **route} for route in extra_routes)
    config["limits"] = {"login": None}  # one client IP signs in for every test case
    return start_gateway(config, workdir)


@asynccontextmanager
async def signed_in(gateway: Gateway, user: str = "alice") -> AsyncIterator[aiohttp.ClientSession]:
    """A client (cookie jar keeping IP hosts) that has just logged in as `user`."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await log_in(client, gateway, "/somewhere", user)
        yield client


def session_cookies(client: aiohttp.ClientSession) -> dict[str, str]:
    cookies = {c.key: c.value for c in client.cookie_jar if c.key == "authgate"}
    assert cookies, "not signed in"
    return cookies


async def session_alive(gateway: Gateway, cookies: dict[str, str]) -> bool:
    """Whether these cookies still name a live session (a fresh client, same cookies)."""
    async with aiohttp.ClientSession(cookies=cookies) as client:
        async with client.get(f"{gateway.url}/.authgate/userinfo", headers=JSON) as r:
            assert r.status in (200, 401), r.status
            return r.status == 200


async def logout_form(client: aiohttp.ClientSession, gateway: Gateway) -> dict[str, Any]:
    """The confirmation page's form: `action` and `fields` (the CSRF token)."""
    async with client.get(f"{gateway.url}/.authgate/logout", headers=BROWSER) as r:
        assert r.status == 200
        forms, _ = parse_forms(await r.text())
    (form,) = forms
    return form


def record_for(gateway: Gateway, request_id: str) -> dict[str, Any]:
    return first_record(gateway, lambda record: record["request_id"] == request_id)


def first_record(
    gateway: Gateway, wanted: Callable[[dict[str, Any]], bool], timeout: float = 6.0
) -> dict[str, Any]:
    """The first decision record `wanted` accepts, polling while the log is written."""
    deadline = time.monotonic() + timeout
    while True:
        found = next((record for record in gateway.decisions(0) if wanted(record)), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no such decision record in {gateway.decision_file}")
        time.sleep(0.05)
