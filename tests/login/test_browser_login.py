"""A real Chromium: protected URL → provider login → back on that URL → logout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from authgate.demo.whoami import build_whoami_app
from tests.testbed.browser import save_screenshot
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def whoami() -> AsyncIterator[TestServer]:
    server = TestServer(build_whoami_app(), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def test_browser_login_and_logout(
    page: Page,
    whoami: TestServer,
    oidc_provider: OIDCProvider,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    upstream = str(whoami.make_url("/")).rstrip("/")
    gateway = gateway_factory(login_config(oidc_provider, upstream, tmp_path / "keys.pem"))
    wanted = f"{gateway.url}/dashboard/team?tab=people"

    await page.goto(wanted)
    assert page.url.startswith(oidc_provider.issuer)  # on the provider's login page
    await save_screenshot(page, "login-1-provider-login")
    await page.fill("#login", "alice")
    await page.fill("#password", "alice-password")
    await page.click("#submit")
    await page.wait_for_url(wanted)
    assert page.url == wanted  # back on the exact URL first asked for
    body = await page.text_content("body") or ""
    assert "X-Authgate-User" in body and "alice" in body
    assert "alice@example.com" in body
    assert "X-Authgate-Assertion" in body
    await save_screenshot(page, "login-2-upstream-shows-identity")

    # Opening the logout URL only asks: the session ends with the form's POST.
    await page.goto(f"{gateway.url}/.authgate/logout")
    await save_screenshot(page, "login-3-confirm-logout")
    await page.goto(wanted)
    assert page.url == wanted  # still signed in
    await page.goto(f"{gateway.url}/.authgate/logout")
    await page.click("#logout-confirm")
    await page.wait_for_load_state()
    if page.url.startswith(oidc_provider.issuer):  # the provider asks to confirm
        await page.click("#logout-yes")
    await page.wait_for_url(f"{gateway.url}/.authgate/logged-out")
    await save_screenshot(page, "login-4-logged-out")

    await page.goto(wanted)
    assert page.url.startswith(oidc_provider.issuer)  # the session is over: login again
    records = gateway.decisions(4)
    assert any(r["reason"] == "logout-confirm" and r["user"] == "alice" for r in records)
    logouts = [r for r in records if r["reason"] == "logout"]
    assert [(r["method"], r["user"], r["status"]) for r in logouts] == [("POST", "alice", 303)]
    # No refusal on the way: the real browser's POST passes the Origin/Fetch Metadata check.
    assert not [r for r in records if r["reason"].startswith("csrf-")]
