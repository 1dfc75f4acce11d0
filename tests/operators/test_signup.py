"""Self-registration hand-off (`providers[].signup`): the chooser's "Create account"
starts the flow with `prompt=create` (OpenID Connect Initiating User Registration 1.0)
where the provider advertises it, and nowhere else. Real gateway, real oidc-provider
(whose discovery gets `prompt_values_supported` through the test bed's options)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.login.test_login_flow import BROWSER
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider

WITH_CREATE = {"discovery": {"prompt_values_supported": ["none", "login", "consent", "create"]}}


@pytest.fixture
def signup_gateway(
    echo_upstream: TestServer, gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> Callable[..., Gateway]:
    def make(provider: OIDCProvider, audience: str = "customer", signup: bool = True) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        # par: off — these tests read the prompt in the front-channel authorization request.
        config = login_config(
            provider, upstream, tmp_path / "assertion.pem", route={"audience": audience},
            provider_options={"signup": signup, "par": "off"},
        )
        return gateway_factory(config)

    return make


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def chooser(session: aiohttp.ClientSession, gateway: Gateway, path: str = "/shop") -> str:
    url = f"{gateway.url}/.authgate/sign-in?" + urlencode({"rd": f"{gateway.url}{path}"})
    async with session.get(url, headers=BROWSER) as r:
        assert r.status == 200
        return await r.text()


def create_link(page: str) -> str | None:
    found = re.search(r'id="create-account-corp" href="([^"]*)"', page)
    return unescape(found.group(1)) if found else None


async def test_create_account_starts_the_flow_with_prompt_create(
    oidc_provider_factory: Callable[..., OIDCProvider], signup_gateway: Callable[..., Gateway]
) -> None:
    gateway = signup_gateway(oidc_provider_factory(options=WITH_CREATE))
    async with client() as session:
        # One provider, but a "Create account" on offer: the chooser comes first.
        async with session.get(f"{gateway.url}/shop", headers=BROWSER) as r:
            assert r.status == 200 and urlsplit(str(r.url)).path == "/.authgate/sign-in"
            page = await r.text()
        assert "Continue with Corp SSO" in page and "Create an account with Corp SSO" in page
        link = create_link(page)
        assert link is not None
        async with session.get(f"{gateway.url}{link}", allow_redirects=False) as r:
            assert r.status == 302
            authorize = parse_qs(urlsplit(r.headers["Location"]).query)
        assert authorize["prompt"] == ["create"]
        assert authorize["redirect_uri"] == [f"{gateway.url}/.authgate/callback"]
        # "Continue with" is an ordinary sign-in: no prompt at all, and it completes.
        continue_with = unescape(re.findall(r'class="provider" href="([^"]*)"', page)[0])
        async with session.get(f"{gateway.url}{continue_with}", allow_redirects=False) as r:
            assert "prompt" not in parse_qs(urlsplit(r.headers["Location"]).query)
        callback = await login_at_provider(session, f"{gateway.url}{continue_with}", "alice", "alice-password")
        async with session.get(callback, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == f"{gateway.url}/shop"
    starts = [rec["reason"] for rec in gateway.decisions(6) if rec["path"] == "/.authgate/start"]
    assert starts[:2] == ["login-chooser", "login-started"]  # the chooser, then Create account


async def test_not_advertised_no_create_account_and_a_log_line_says_why(
    oidc_provider: OIDCProvider, signup_gateway: Callable[..., Gateway]
) -> None:
    gateway = signup_gateway(oidc_provider)  # oidc-provider 9 lists no prompt values
    async with client() as session:
        async with session.get(f"{gateway.url}/shop", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        async with session.get(f"{gateway.url}{start}", allow_redirects=False) as r:
            assert r.headers["Location"].startswith(oidc_provider.issuer)  # straight to sign-in
        assert create_link(await chooser(session, gateway)) is None
        # A hand-made signup=1 is a plain sign-in: nothing the provider did not offer.
        forced = "/.authgate/start?" + urlencode({"provider": "corp", "rd": f"{gateway.url}/shop", "signup": "1"})
        async with session.get(f"{gateway.url}{forced}", allow_redirects=False) as r:
            assert "prompt" not in parse_qs(urlsplit(r.headers["Location"]).query)
    assert "does not list `create` in prompt_values_supported" in gateway.stderr()


@pytest.mark.parametrize(("audience", "signup"), [("workforce", True), ("customer", False)])
async def test_no_create_account_for_workforce_routes_or_without_signup(
    oidc_provider_factory: Callable[..., OIDCProvider],
    signup_gateway: Callable[..., Gateway],
    audience: str,
    signup: bool,
) -> None:
    gateway = signup_gateway(oidc_provider_factory(options=WITH_CREATE), audience, signup)
    async with client() as session:
        assert create_link(await chooser(session, gateway)) is None
        forced = "/.authgate/start?" + urlencode({"provider": "corp", "rd": f"{gateway.url}/shop", "signup": "1"})
        async with session.get(f"{gateway.url}{forced}", allow_redirects=False) as r:
            assert "prompt" not in parse_qs(urlsplit(r.headers["Location"]).query)


