"""Refresh re-validates and re-evaluates, against the real OpenID Provider (and a rogue
one for the tokens a real provider would never sign): docs/continuous.md."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from tests.login.test_login_flow import log_in
from tests.oidc.rogue import RogueProvider, mint, rsa_key
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET, login_config
from tests.testbed.oidc import DEFAULT_USERS, OIDCProvider

JSON = {"Accept": "application/json"}
REVERIFY = 1.0  # routes here re-verify every second: the next request after refreshes


Started = Callable[..., tuple[OIDCProvider, Gateway]]
ADMINS_ONLY = {"allow": [{"groups": ["admins"]}]}


@pytest.fixture
def started(
    oidc_provider_factory: Callable[..., OIDCProvider],
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Started:
    """`started(route_keys..., provider={overrides})`: a provider of the test's own and
    a gateway whose route re-verifies every `REVERIFY` seconds."""

    def start(
        provider: dict[str, Any] | None = None, ttl: dict[str, int] | None = None, **route: Any
    ) -> tuple[OIDCProvider, Gateway]:
        op = oidc_provider_factory(ttl=ttl)
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        config = login_config(op, upstream, tmp_path / "keys.pem", route={"reverify_every": f"{REVERIFY}s", **route})
        config["providers"][0] |= provider or {}
        config["sessions"] = {"refresh_before": "1s"}
        return op, gateway_factory(config)

    return start


def _browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _get(client: aiohttp.ClientSession, gateway: Gateway, path: str) -> tuple[int, str]:
    async with client.get(f"{gateway.url}{path}", headers=JSON, allow_redirects=False) as r:
        await r.read()
        return r.status, r.headers["X-Request-Id"]


async def test_a_group_removed_at_the_provider_is_denied_on_the_next_request_after_the_refresh(
    started: Started,
) -> None:
    provider, gateway = started(policy=ADMINS_ONLY)
    async with _browser() as client:
        await log_in(client, gateway, "/")
        assert (await _get(client, gateway, "/admin"))[0] == 200
        claims = dict(DEFAULT_USERS["alice"]["claims"], groups=["hr-staff"])  # admins removed
        provider.set_user_claims("alice", claims)
        await asyncio.sleep(REVERIFY + 0.1)
        status, request_id = await _get(client, gateway, "/admin")
        assert status == 403
        record = gateway.record(request_id)
        assert record["decision"] == "deny"
        assert record["reason"].split(",")[-1] == "groups-changed"
        assert "groups-unauthorized" in record["reason"]
        # Decided on the refreshed identity from now on, without another refresh.
        assert (await _get(client, gateway, "/admin"))[0] == 403
    assert provider.log_text(200_000).count("POST /token") == 2  # the login, one refresh


async def test_the_refresh_at_the_access_tokens_end_re_evaluates_too(started: Started) -> None:
    # No re-verification interval: access tokens live 2 s, refreshed 1 s before the end.
    provider, gateway = started(ttl={"AccessToken": 2}, policy=ADMINS_ONLY, reverify_every="off")
    async with _browser() as client:
        await log_in(client, gateway, "/")
        assert (await _get(client, gateway, "/admin"))[0] == 200
        provider.set_user_claims("alice", dict(DEFAULT_USERS["alice"]["claims"], groups=["hr-staff"]))
        assert (await _get(client, gateway, "/admin"))[0] == 200  # not refreshed yet
        await asyncio.sleep(1.2)
        status, request_id = await _get(client, gateway, "/admin")
    assert status == 403
    assert gateway.record(request_id)["reason"].split(",")[-1] == "groups-changed"


async def test_an_unchanged_identity_stays_allowed_and_is_refreshed_once_per_interval(
    started: Started,
) -> None:
    provider, gateway = started(policy=ADMINS_ONLY)
    async with _browser() as client:
        await log_in(client, gateway, "/")
        await asyncio.sleep(REVERIFY + 0.1)
        answers = await asyncio.gather(*(_get(client, gateway, "/a") for _ in range(10)))
        assert {status for status, _ in answers} == {200}
        reasons = {gateway.record(request_id)["reason"] for _, request_id in answers}
        assert not any("changed" in reason for reason in reasons)
    assert provider.log_text(200_000).count("POST /token") == 2  # one refresh for the ten


async def test_invalid_grant_ends_the_session(started: Started) -> None:
    provider, gateway = started()
    async with _browser() as client:
        await log_in(client, gateway, "/")
        assert (await _get(client, gateway, "/a"))[0] == 200
        # The provider forgets every grant (its store is in memory): the refresh token
        # it issued is answered `invalid_grant` from now on.
        provider.restart()
        await asyncio.sleep(REVERIFY + 0.1)
        status, request_id = await _get(client, gateway, "/a")
        assert status == 401
        record = gateway.record(request_id)
        assert record["decision"] == "login"
        assert record["reason"].split(",")[0] == "session-revoked-by-provider"
        # Gone from the store, not only refused once.
        status, request_id = await _get(client, gateway, "/a")
        assert status == 401
        assert gateway.record(request_id)["reason"].split(",")[0] in {"session-expired", "user-unauthenticated"}
    assert "invalid_grant" in provider.log_text(200_000) or "POST /token 400" in provider.log_text(200_000)


async def test_a_provider_outage_keeps_the_session_within_the_grace_then_ends_it(
    started: Started,
) -> None:
    provider, gateway = started(provider={"outage_grace": "3s", "timeout": "1s"})
    async with _browser() as client:
        await log_in(client, gateway, "/")
        provider.stop()
        await asyncio.sleep(REVERIFY + 0.1)
        status, request_id = await _get(client, gateway, "/a")
        assert status == 200
        assert gateway.record(request_id)["reason"].split(",")[-1] == "reverify-deferred"
        await asyncio.sleep(3.0)  # past the grace, counted from when it became due
        status, request_id = await _get(client, gateway, "/a")
        assert status == 401
        assert gateway.record(request_id)["reason"].split(",")[0] == "reverify-failed"


# ---------------------------------------------------------------- the rogue provider

ROGUE_CLIENT, ROGUE_SECRET = "gateway", "gateway-secret-0123456789"
KEY = rsa_key("rsa-1")


class _Logins:
    """The rogue's token endpoint: a proper ID token for the code, then for each
    refresh the one the test crafts from the login's claims."""

    def __init__(self, rogue: RogueProvider, crafted: dict[str, Any]) -> None:
        self.rogue, self.crafted = rogue, crafted

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.rogue.issuer, "aud": ROGUE_CLIENT, "sub": "alice", "iat": now,
                "exp": now + 300, "groups": ["admins"], "email": "alice@example.com"}
        return {k: v for k, v in (base | changes).items() if v is not None}

    def __call__(self, form: dict[str, str]) -> tuple[int, Any]:
        if form["grant_type"] == "authorization_code":
            nonce = self.rogue.authorizations[-1]["nonce"]
            id_token = mint(self.claims(nonce=nonce), KEY)
        else:
            id_token = mint(self.claims(**self.crafted), KEY)
        return 200, {"access_token": f"at-{len(self.rogue.token_requests)}", "token_type": "Bearer",
                     "expires_in": 300, "refresh_token": "rt", "id_token": id_token}


@pytest.mark.parametrize(
    ("crafted", "ends"),
    [
        pytest.param({}, False, id="same-login"),
        pytest.param({"sub": "mallory"}, True, id="sub"),
        pytest.param({"iss": "http://127.0.0.1:1"}, True, id="iss"),
        pytest.param({"aud": "someone-else"}, True, id="aud"),
        pytest.param({"azp": "someone-else"}, True, id="azp"),
        pytest.param({"aud": [ROGUE_CLIENT, "someone-else"], "azp": ROGUE_CLIENT}, True, id="aud-grew"),
    ],
)
async def test_a_refreshed_id_token_about_another_login_ends_the_session(
    crafted: dict[str, Any],
    ends: bool,
    aiohttp_server: AiohttpServer,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    rogue = RogueProvider(published=[KEY])
    server = await aiohttp_server(rogue.app())
    rogue.issuer = f"http://{server.host}:{server.port}"
    rogue.token_answer = _Logins(rogue, crafted)
    config = {
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(tmp_path / "keys.pem")},
        "providers": [{"id": "rogue", "issuer": rogue.issuer, "client_id": ROGUE_CLIENT,
                       "client_secret": ROGUE_SECRET}],
        "routes": [{"id": "app", "match": {"host": "127.0.0.1"},
                    "upstream": str(echo_upstream.make_url("/")).rstrip("/"),
                    "reverify_every": f"{REVERIFY}s"}],
    }
    gateway = gateway_factory(config)
    async with _browser() as client:
        async with client.get(f"{gateway.url}/a", headers={"Accept": "text/html"}) as r:
            assert r.status == 200, await r.text()  # logged in through the rogue's /auth
        await asyncio.sleep(REVERIFY + 0.1)
        status, request_id = await _get(client, gateway, "/a")
        record = gateway.record(request_id)
        if not ends:
            assert status == 200
            return
        assert status == 401
        assert record["reason"].split(",")[0] == "refresh-identity-mismatch"
        assert (await _get(client, gateway, "/a"))[0] == 401  # ended, not refused once
    assert [form["grant_type"] for form, _ in rogue.token_requests] == ["authorization_code", "refresh_token"]
