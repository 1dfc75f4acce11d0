"""Privileged access end to end: the real OpenID Provider, the real gateway, Chromium.

bob asks for db-admin with a reason on /.authgate/access; his request to the
privileged route is refused; he cannot approve his own request (he is a listed
approver, so only the four-eyes rule stops him); alice approves it on the page; bob
is let in until the grant's end and refused after it, by the gateway's clock alone.
Then break-glass: bob's self-grant demands a fresh sign-in with the level asked
(`acr=mfa`, the one-time code) before it is active. The webhook (a local chat stand-in)
hears of each request and decision, and the decision log has a record of each event.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from tests.testbed.browser import save_screenshot
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET
from tests.testbed.oidc import OIDCProvider

pytestmark = pytest.mark.slow
GRANT_SECONDS = 8


@pytest_asyncio.fixture
async def chat() -> AsyncIterator[tuple[TestServer, list[str]]]:
    """A Slack-style incoming webhook that keeps the texts it is sent."""
    heard: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        heard.append((await request.json())["text"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, heard
    await server.close()


def config(provider: OIDCProvider, upstream: str, hook: str, tmp: Path) -> dict[str, Any]:
    return {
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(tmp / "keys.pem")},
        "providers": [{
            "id": "corp", "issuer": provider.issuer, "client_id": provider.client_id,
            "client_secret": provider.client_secret, "scopes": ["openid", "email", "profile", "groups"],
        }],  # fmt: skip
        "entitlements": {
            "db-admin": {
                "max_duration": f"{GRANT_SECONDS}s",
                "approvers": {"groups": ["admins"], "users": ["bob"]},
                "require_reason": True,
                "break_glass": {"groups": ["contractors"], "max_age": "5m", "acr": "mfa"},
            }
        },
        "access": {"webhook": {"url": hook, "timeout": "2s"}},
        "routes": [
            {
                "id": "db", "match": {"host": "127.0.0.1", "path_prefix": "/db/"}, "upstream": upstream,
                "policy": {"allow": [{"entitlement": ["db-admin"]}]},
            },
            {"id": "app", "match": {"host": "127.0.0.1"}, "upstream": upstream,
             "policy": {"allow": [{"authenticated": True}]}},
        ],  # fmt: skip
    }


async def sign_in(page: Page, gateway: Gateway, user: str, password: str) -> None:
    await page.goto(f"{gateway.url}/.authgate/access")
    await page.fill("#login", user)
    await page.fill("#password", password)
    await page.click("#submit")
    await page.wait_for_url(f"{gateway.url}/.authgate/access")


async def status_of(page: Page, url: str) -> int:
    response = await page.goto(url)
    assert response is not None
    return response.status


def grant_records(gateway: Gateway, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in gateway.decisions(0) if r.get("grant") and r["grant"]["event"] != "used" and not r["method"]]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


async def test_request_approve_expire_and_break_glass(
    browser: Browser,
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    chat: tuple[TestServer, list[str]],
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    hook_server, heard = chat
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    gateway = gateway_factory(config(oidc_provider, upstream, str(hook_server.make_url("/hook")), tmp_path))
    db = f"{gateway.url}/db/console"
    bob = await (await browser.new_context()).new_page()
    alice = await (await browser.new_context()).new_page()

    # bob signs in at the access page and asks.
    await sign_in(bob, gateway, "bob", "bob-password")
    assert await status_of(bob, db) == 403  # no grant yet
    await bob.goto(f"{gateway.url}/.authgate/access")
    await bob.fill("#request-duration", f"{GRANT_SECONDS}s")
    await bob.fill("#request-reason", "INC-4711: replica lag on orders-db")
    await bob.click("#request-submit")
    await bob.wait_for_url(re.compile(r".*/\.authgate/access\?done=request&grant=g-[0-9a-f]+$"))
    grant_id = bob.url.rpartition("grant=")[2]
    assert await bob.get_attribute(f"#grant-{grant_id}", "data-state") == "requested"
    await save_screenshot(bob, "access-1-bob-requested")
    assert await status_of(bob, db) == 403  # asked, not approved

    # bob is an approver, but not of his own request: no button, and a forged POST is refused.
    await bob.goto(f"{gateway.url}/.authgate/access")
    assert await bob.locator(f"#approve-{grant_id}").count() == 0
    token = await bob.get_attribute("#request-form input[name=csrf_token]", "value")
    forged = await bob.request.post(
        f"{gateway.url}/.authgate/access",
        form={"csrf_token": token or "", "action": "approve", "grant_id": grant_id},
        headers={"Origin": gateway.url},
    )
    assert forged.status == 403
    assert "cannot approve your own request" in await forged.text()
    assert await status_of(bob, db) == 403

    # alice, an approver, sees it waiting and approves it.
    await sign_in(alice, gateway, "alice", "alice-password")
    row = alice.locator(f"#waiting #grant-{grant_id}")
    assert "INC-4711" in (await row.text_content() or "") and "bob" in (await row.text_content() or "")
    await save_screenshot(alice, "access-2-alice-sees-the-request")
    await alice.click(f"#approve-{grant_id}")
    await alice.wait_for_url(re.compile(r".*done=approve.*"))
    approved_at = time.time()

    # bob gets in until the grant ends, and not after: polled by the gateway's clock.
    allowed: list[float] = []
    denied_at = None
    while time.time() < approved_at + GRANT_SECONDS + 5:
        at = time.time()
        if await status_of(bob, db) == 200:
            allowed.append(at)
        elif allowed:
            denied_at = at
            break
        await bob.wait_for_timeout(250)
    assert allowed and denied_at is not None
    assert allowed[-1] - approved_at < GRANT_SECONDS  # allowed only within the grant
    assert denied_at - approved_at >= GRANT_SECONDS - 1.0  # and refused after its end
    assert await status_of(bob, db) == 403
    used = [r for r in gateway.decisions(0) if r["route"] == "db" and r["decision"] == "allow"]
    assert used and all(r["grant"] == {**r["grant"], "id": grant_id, "event": "used"} for r in used)
    refused_after = [r for r in gateway.decisions(0) if r["route"] == "db" and r["status"] == 403]
    assert refused_after[-1]["reason"] == "policy-no-match,entitlement-required"

    # Break-glass: active at once, but only after a fresh sign-in with the one-time code.
    await bob.goto(f"{gateway.url}/.authgate/access")
    await bob.fill("#glass-duration", "5s")
    await bob.fill("#glass-reason", "orders-db down, nobody answering")
    await bob.click("#break-glass-submit")
    await bob.wait_for_url(re.compile(re.escape(oidc_provider.issuer) + ".*"))  # at the provider again
    await save_screenshot(bob, "access-3-break-glass-demands-a-fresh-sign-in")
    await bob.fill("#login", "bob")
    await bob.fill("#password", "bob-password")
    await bob.fill("#otp", "654321")
    await bob.click("#submit")
    await bob.wait_for_url(re.compile(r".*/\.authgate/access\?entitlement=db-admin.*"))
    await bob.fill("#glass-duration", "5s")
    await bob.fill("#glass-reason", "orders-db down, nobody answering")
    await bob.click("#break-glass-submit")
    await bob.wait_for_url(re.compile(r".*done=break-glass.*"))
    assert await status_of(bob, db) == 200

    events = grant_records(gateway, 6)
    assert [(r["reason"], r["user"]) for r in events] == [
        ("grant-requested", "bob"),
        ("grant-approved", "alice"),
        ("grant-activated", "alice"),
        ("grant-expired", "gateway"),
        ("grant-break-glass", "bob"),
        ("grant-activated", "bob"),
    ]
    assert {r["grant"]["id"] for r in events[:4]} == {grant_id}
    assert events[0]["grant"]["reason"] == "INC-4711: replica lag on orders-db"
    deadline = time.monotonic() + 5
    while len(heard) < 3 and time.monotonic() < deadline:
        await bob.wait_for_timeout(100)
    assert any("bob requests db-admin" in text for text in heard)
    assert any("alice approved bob's db-admin" in text for text in heard)
    assert any("BREAK-GLASS" in text and "bob" in text for text in heard)
