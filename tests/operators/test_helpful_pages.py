"""Pages that help the user, through a real gateway and real logins (oidc-provider):
sign out and switch account from the denied page, "start over" on error pages, the
operator's name, logo and colour, and a step-up instead of a dead-end 403 for MFA."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from aiohttp.test_utils import TestServer

from tests.login.test_login_flow import BROWSER
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider, parse_forms
from tests.testbed.ports import free_port

API = {"Accept": "application/json"}
HR_ONLY = {"policy": {"allow": [{"groups": ["hr-staff"]}]}}
# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(client: aiohttp.ClientSession, gateway: Gateway, path: str, user: str, **login: Any) -> None:
    start = f"{gateway.url}/.authgate/start?rd={gateway.url}{path}"
    callback = await login_at_provider(client, start, user, f"{user}-password", **login)
    async with client.get(callback, allow_redirects=False) as r:
        assert r.status == 302, await r.text()


def element(page: str, element_id: str) -> str:
    match = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>', page)
    assert match, f"no element #{element_id} on the page:\n{page}"
    return match.group(0)


def href(page: str, element_id: str) -> str:
    found = re.search(r'href="([^"]*)"', element(page, element_id))
    assert found
    return unescape(found.group(1))


def style_hashes(page: str) -> set[str]:
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    }


# --- the denied page ----------------------------------------------------------------


async def denied_page(client: aiohttp.ClientSession, gateway: Gateway, path: str, user: str) -> tuple[str, str]:
    """Sign `user` in and open `path`, which refuses them: (page, its CSP)."""
    await sign_in(client, gateway, path, user)
    async with client.get(f"{gateway.url}{path}", headers=BROWSER) as r:
        assert r.status == 403
        return await r.text(), r.headers["Content-Security-Policy"]


async def test_denied_page_signs_out_with_a_csrf_post(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway(route=HR_ONLY)
    async with jar() as client:
        page, csp = await denied_page(client, gateway, "/payroll", "bob")
        assert "<script" not in page and style_hashes(page) <= set(csp.split("; ")[1].split()[1:])
        element(page, "denied-sign-out")
        (form,) = [f for f in parse_forms(page)[0] if f["action"] == "/.authgate/logout"]
        assert form["fields"]["csrf_token"]
        # A forged POST without the token does nothing: the session lives on.
        async with client.post(f"{gateway.url}/.authgate/logout", data={}, headers=BROWSER) as r:
            assert r.status == 403
        async with client.post(
            f"{gateway.url}/.authgate/logout", data=form["fields"], allow_redirects=False
        ) as r:
            assert r.status == 303
        async with client.get(f"{gateway.url}/payroll", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302 and "/.authgate/start" in r.headers["Location"]  # signed out
    assert any(rec["reason"] == "logout" and rec["user"] == "bob" for rec in gateway.decisions(6))


async def test_denied_page_switches_to_another_account(login_gateway: Callable[..., Gateway]) -> None:
    # par: off — the test reads the prompt in the front-channel authorization request.
    gateway = login_gateway(route=HR_ONLY, provider_options={"par": "off"})
    async with jar() as client:
        switch = href((await denied_page(client, gateway, "/payroll?month=5", "bob"))[0], "switch-account")
        query = parse_qs(urlsplit(switch).query)
        assert query == {"rd": [f"{gateway.url}/payroll?month=5"], "switch": ["1"]}
        async with client.get(f"{gateway.url}{switch}", allow_redirects=False) as r:
            authorize = r.headers["Location"]
        # oidc-provider lists no `select_account`: a fresh login, so the provider's
        # session does not sign bob in again.
        sent = parse_qs(urlsplit(authorize).query)
        assert sent["prompt"] == ["login"] and sent["max_age"] == ["0"]
        # Signing in as another account makes oidc-provider end bob's session there
        # first, on a page a browser submits by script; the test bed does not run
        # script, so that session is dropped here instead.
        client.cookie_jar.clear_domain(urlsplit(authorize).hostname or "")
        callback = await login_at_provider(client, authorize, "alice", "alice-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == f"{gateway.url}/payroll?month=5"
        async with client.get(f"{gateway.url}/payroll?month=5", headers=API) as r:
            assert r.status == 200
    assert gateway.decisions(8)[-1]["user"] == "alice"


async def test_denied_page_without_a_session_offers_no_sign_out(login_gateway: Callable[..., Gateway]) -> None:
    policy = {"deny": [{"method": ["DELETE"]}], "allow": [{"authenticated": True}]}
    gateway = login_gateway(route={"policy": policy})
    async with jar() as client:
        async with client.delete(f"{gateway.url}/x", headers=BROWSER) as r:
            assert r.status == 403
            page = await r.text()
    assert "Access denied" in page
    assert 'id="denied-sign-out"' not in page and 'id="switch-account"' not in page


# --- error pages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/public/report?y=1&z=2", "/public/report?y=1&z=2"),  # the page again
        ("POST", "/public/report", "/"),  # never replays a form: the root
        ("GET", "/.authgate/callback?state=forged&code=x", "/"),  # a sign-in gone wrong
        ("GET", "/.authgate/nothing-here", "/"),
    ],
)
async def test_error_pages_offer_start_over(
    login_gateway: Callable[..., Gateway], method: str, path: str, expected: str
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: 502
    gateway = login_gateway(route={"upstream": closed})
    async with jar() as client:
        async with client.request(method, f"{gateway.url}{path}", headers=BROWSER, allow_redirects=False) as r:
            assert r.status in (400, 404, 502)
            page = await r.text()
    assert href(page, "start-over") == expected


# --- the operator's name, logo and colour -------------------------------------------


async def test_branding_title_logo_and_accent(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = login_config(oidc_provider, upstream, tmp_path / "assertion.pem", route=HR_ONLY)
    config["pages"] = {"title": "Acme <Portal>", "logo": str(logo), "accent": "#0a7d4f"}
    gateway = gateway_factory(config)
    async with jar() as client:
        page, csp = await denied_page(client, gateway, "/payroll", "bob")
        async with client.get(f"{gateway.url}/.authgate/logo") as r:
            assert r.status == 200 and r.content_type == "image/png"
            assert await r.read() == PNG
            assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert '<header class="brand"><img src="/.authgate/logo" alt=""><span>Acme &lt;Portal&gt;</span>' in page
    assert ":root{--accent:#0a7d4f}" in page and "var(--accent,#1a5fb4)" in page
    assert style_hashes(page) <= set(csp.split("; ")[1].split()[1:])  # the accent's block too
    assert "img-src 'self'" in csp


# --- MFA: a step-up, not a dead end -------------------------------------------------


async def test_workforce_password_only_login_steps_up_to_mfa(login_gateway: Callable[..., Gateway]) -> None:
    gateway = login_gateway(route={"audience": "workforce"})
    async with jar() as client:
        await sign_in(client, gateway, "/", "alice")  # password only: amr=["pwd"]
        async with client.get(f"{gateway.url}/docs", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            start = r.headers["Location"]
        query = parse_qs(urlsplit(start).query)
        assert query["step_up"] == ["1"] and "otp" in query["mfa"][0].split()
        async with client.get(f"{gateway.url}/docs", headers=API) as r:
            assert r.status == 401  # an API client is told, not sent away
            assert r.headers["WWW-Authenticate"].startswith("Session realm=")
            assert (await r.json())["reason"] == "mfa-required"
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password", otp="123456")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == f"{gateway.url}/docs"
        async with client.get(f"{gateway.url}/docs", headers=API) as r:
            assert r.status == 200
    steps = [rec for rec in gateway.decisions(8) if rec["decision"] == "step_up"]
    assert steps and steps[0]["reason"] == "mfa-required"
    assert steps[0]["rule"] == "routes[app].default[workforce]"


async def test_mfa_step_up_answered_with_a_password_only_is_refused_not_looped(
    login_gateway: Callable[..., Gateway],
) -> None:
    gateway = login_gateway(route={"audience": "workforce"})
    async with jar() as client:
        await sign_in(client, gateway, "/", "alice")
        async with client.get(f"{gateway.url}/", headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        async with client.get(callback, headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 403
            page = await r.text()
    assert "step-up-failed" in page


async def test_a_route_policy_asking_for_mfa_is_left_as_written(login_gateway: Callable[..., Gateway]) -> None:
    policy = {"allow": [{"and": [{"authenticated": True}, {"mfa": True}]}]}
    gateway = login_gateway(route={"audience": "workforce", "policy": policy})
    async with jar() as client:
        await sign_in(client, gateway, "/", "alice")
        async with client.get(f"{gateway.url}/", headers=API) as r:
            assert r.status == 403 and "mfa-required" in (await r.json())["reason"]
