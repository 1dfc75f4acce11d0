"""A provider that cannot be reached, or does not answer, during a sign-in.

The user must learn that the sign-in service failed (by its display name), not that
"the application is unreachable": a page (or JSON for API clients) with the request id
and a link back to the URL first asked for, status 502 (unreachable) or 504 (timed out),
and a record with the provider reason. Covered at both places a sign-in calls the
provider: discovery when leaving for it (`start`), and the token endpoint when coming
back (`callback`) — a closed port, and a socket that accepts and never answers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.hardening.answer_checks import assert_hardened
from tests.hardening.scripted_upstream import ScriptedUpstream, scripted_upstream
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET, login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider
from tests.testbed.ports import free_port

__all__ = ["scripted_upstream"]  # the fixture, imported for this module

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
API = {"Accept": "application/json"}
TITLES = {502: "Sign-in service unreachable", 504: "Sign-in service timed out"}


def gateway_config(issuer: str, upstream: str, workdir: Path) -> dict[str, Any]:
    return {
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(workdir / "keys.pem")},
        "providers": [
            {
                "id": "corp",
                "display_name": "Corp SSO",
                "issuer": issuer,
                "client_id": "authgate",
                "client_secret": "authgate-test-secret",
                "timeout": "1s",
            }
        ],
        "routes": [{"id": "app", "match": {"host": "127.0.0.1"}, "upstream": upstream}],
    }


@pytest.fixture
def down_provider_gateway(
    scripted_upstream: Callable[..., Awaitable[ScriptedUpstream]],
    gateway_factory: Callable[..., Gateway],
    echo_upstream: TestServer,
    tmp_path: Path,
) -> Callable[[str], Awaitable[Gateway]]:
    async def start(kind: str) -> Gateway:
        if kind == "closed":
            issuer = f"http://127.0.0.1:{free_port('127.0.0.1')}"
        else:  # accepts the connection, reads the request, never answers
            issuer = (await scripted_upstream(b"", close=False)).url
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        return gateway_factory(gateway_config(issuer, upstream, tmp_path))

    return start


def assert_sign_in_page(body: str, status: int, retry: str, request_id: str) -> None:
    assert f"<h1>{TITLES[status]}</h1>" in body
    assert "Corp SSO" in body
    assert "Application unreachable" not in body and "Application timed out" not in body
    assert f'href="{html.escape(retry, quote=True)}"' in body
    assert request_id in body


@pytest.mark.parametrize(("kind", "status", "reason"), [
    ("closed", 502, "provider-unreachable"),
    ("stalled", 504, "provider-timeout"),
])
async def test_start_names_the_provider_and_offers_a_retry(
    down_provider_gateway: Callable[[str], Awaitable[Gateway]], kind: str, status: int, reason: str
) -> None:
    gateway = await down_provider_gateway(kind)
    wanted = f"{gateway.url}/reports/q3?year=2026"
    async with aiohttp.ClientSession() as client:
        async with client.get(wanted, headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            start = r.headers["Location"]
        assert start == "/.authgate/start?rd=" + quote(wanted, safe="")
        async with client.get(f"{gateway.url}{start}", headers=BROWSER) as r:
            body = await r.text()
            assert r.status == status, body
            assert r.content_type == "text/html"
            assert_hardened(r.headers, body)
            request_id = r.headers["X-Request-Id"]
        assert_sign_in_page(body, status, wanted, request_id)
        async with client.get(f"{gateway.url}{start}", headers=API) as r:
            assert r.status == status
            document = json.loads(await r.text())
            assert document == {
                "error": TITLES[status],
                "status": status,
                "reason": reason,
                "provider": "Corp SSO",
                "retry": wanted,
                "request_id": r.headers["X-Request-Id"],
            }
    records = [r for r in gateway.decisions(3) if r["rule"] == "endpoint:start"]
    assert [(r["decision"], r["reason"], r["status"]) for r in records] == [
        ("error", reason, status)
    ] * 2
    assert records[0]["request_id"] == request_id


async def test_callback_with_the_token_endpoint_down_names_the_provider(
    oidc_provider_factory: Callable[..., OIDCProvider],
    gateway_factory: Callable[..., Gateway],
    echo_upstream: TestServer,
    tmp_path: Path,
) -> None:
    provider = oidc_provider_factory()
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    gateway = gateway_factory(login_config(provider, upstream, tmp_path / "keys.pem"))
    wanted = f"{gateway.url}/reports/q3"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        async with client.get(wanted, headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        provider.stop()  # the user is back with a code; the token endpoint is gone
        async with client.get(callback, headers=BROWSER, allow_redirects=False) as r:
            body = await r.text()
            assert r.status == 502, body
            assert_hardened(r.headers, body)
            request_id = r.headers["X-Request-Id"]
    assert_sign_in_page(body, 502, wanted, request_id)
    record = next(r for r in gateway.decisions(4) if r["request_id"] == request_id)
    assert (record["decision"], record["reason"], record["rule"]) == (
        "error", "provider-unreachable", "endpoint:callback"
    )
