"""One credential per request, and only the validated one reaches the upstream (raw sockets).

Two `Authorization` fields (any case) or the gateway's cookie twice (cookie tossing)
are refused with 400 `duplicate-credentials` before anything is validated, on every
route and on the gateway's own endpoints (Envoy CVE-2021-32777, Pomerium
CVE-2021-39206). A validated bearer token is forwarded exactly; a client's
`Authorization` on a session-authenticated request is not (unless the route opts in);
a bearer token next to a session cookie is the credential; repeated `Cookie` headers
are folded into one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from yarl import URL

from tests.hardening._headers_bed import (
    AUDIENCE,
    api_config,
    echo_gateway,
    echo_of,
    received,
    rogue_issuer,
    send,
    token,
    upstream_of,
)
from tests.oidc.rogue import RogueProvider
from tests.proxy.helpers import echoed
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider

__all__ = ["echo_gateway", "rogue_issuer"]  # fixtures, used by name

DUPLICATES = [
    [("Authorization", "Bearer {token}"), ("Authorization", "Bearer forged")],
    [("Authorization", "Bearer forged"), ("Authorization", "Bearer {token}")],
    [("authorization", "Bearer {token}"), ("AUTHORIZATION", "Bearer {token}")],  # same value
    [("Authorization", "Bearer {token}"), ("aUTHORIZATION", "Basic YWRtaW46YWRtaW4=")],
    [("Authorization", ""), ("Authorization", "Bearer {token}")],
]
# (host, target): a public route, a bearer route, the gateway's own endpoints.
PLACES = [
    ("echo.test", "/anything"),
    ("api.test", "/orders/1"),
    ("api.test", "/.authgate/start?rd=/orders"),
    ("echo.test", "/.authgate/logout"),
]


@pytest.fixture
def two_routes(
    rogue_issuer: RogueProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Gateway:
    """A bearer route `api` (api.test) and a public route `echo` (echo.test)."""
    config = api_config(rogue_issuer, echo_upstream, str(tmp_path / "keys.pem"))
    config["routes"].append(
        {"id": "echo", "match": {"host": "echo.test"}, "upstream": upstream_of(echo_upstream), "public": ["/**"]}
    )
    return gateway_factory(config)


@pytest.mark.parametrize("duplicate", DUPLICATES)
async def test_two_authorization_fields_are_refused_everywhere(
    two_routes: Gateway, rogue_issuer: RogueProvider, duplicate: list[tuple[str, str]]
) -> None:
    valid = token(rogue_issuer)
    headers = [(name, value.format(token=valid)) for name, value in duplicate]
    for host, target in PLACES:
        status, response, body = await send(two_routes, target, headers, host=host)
        assert status == 400, (host, target)
        assert echoed(body)["reason"] == "duplicate-credentials"
        assert echoed(body)["request_id"] == response["x-request-id"]
    records = two_routes.decisions(len(PLACES))
    assert [r["reason"] for r in records] == ["duplicate-credentials"] * len(PLACES)
    assert {(r["user"], r["upstream_status"], r["status"]) for r in records} == {(None, None, 400)}


async def test_the_validated_bearer_is_the_only_authorization_upstream(
    two_routes: Gateway, rogue_issuer: RogueProvider
) -> None:
    bearer = f"Bearer {token(rogue_issuer)}"
    echo = await echo_of(two_routes, "/orders/1", [("authorization", bearer)], host="api.test")
    assert [(n.lower(), v) for n, v in received(echo) if n.lower() == "authorization"] == [
        ("authorization", bearer)
    ]
    record = two_routes.decisions(1)[0]
    assert (record["user"], record["stripped"]) == ("billing-bot", [])


async def test_a_public_route_passes_the_clients_authorization_as_sent(two_routes: Gateway) -> None:
    echo = await echo_of(two_routes, "/x", [("Authorization", "Basic YWRtaW46YWRtaW4=")])
    assert [v for n, v in received(echo) if n.lower() == "authorization"] == ["Basic YWRtaW46YWRtaW4="]


TOSSED = [
    [("Cookie", "authgate=victim; authgate=attacker")],
    [("Cookie", "authgate=same; authgate=same")],
    [("Cookie", "a=1; authgate=victim"), ("Cookie", "authgate=attacker")],
    [("cookie", "authgate=victim"), ("COOKIE", "b=2; authgate=attacker")],
    [("Cookie", "authgate-login=one; authgate-login=two")],
]


@pytest.mark.parametrize("cookies", TOSSED)
async def test_the_gateway_cookie_twice_is_cookie_tossing(
    two_routes: Gateway, cookies: list[tuple[str, str]]
) -> None:
    places = [*PLACES, ("api.test", "/.authgate/callback?state=s&code=c")]
    for host, target in places:
        status, _, body = await send(two_routes, target, cookies, host=host)
        assert status == 400, (host, target)
        assert echoed(body)["reason"] == "duplicate-credentials"
    assert len(two_routes.decisions(len(places))) == len(places)


@pytest.mark.parametrize(
    ("cookies", "upstream"),
    [
        ([("Cookie", "a=1"), ("Cookie", "authgate=S"), ("Cookie", "b=2")], ["a=1; b=2"]),
        ([("Cookie", "a=1"), ("cookie", "b=2")], ["a=1; b=2"]),
        ([("Cookie", "a=1;b=2")], ["a=1;b=2"]),
        ([("Cookie", "authgate=S; authgate-login=L")], []),
    ],
)
async def test_repeated_cookie_headers_reach_the_upstream_as_one(
    echo_gateway: Callable[..., Gateway], cookies: list[tuple[str, str]], upstream: list[str]
) -> None:
    gateway = echo_gateway()
    echo = await echo_of(gateway, "/c", cookies)
    assert [v for n, v in received(echo) if n.lower() == "cookie"] == upstream


# --- a session route that also takes bearer tokens (real login) ----------------------


@pytest.fixture
def session_and_bearer(
    oidc_provider: OIDCProvider,
    rogue_issuer: RogueProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Gateway:
    """Route `app` (127.0.0.1): session or bearer; `plain` (plain.test): session only;
    `passing` (pass.test): session, `pass_authorization: true`."""
    upstream = upstream_of(echo_upstream)
    config: dict[str, Any] = login_config(oidc_provider, upstream, tmp_path / "keys.pem")
    config["providers"].append({"id": "rogue", "issuer": rogue_issuer.issuer, "client_id": "gateway"})
    app = config["routes"][0]
    app.update(authenticate=["session", "bearer"], bearer={"providers": ["rogue"], "audiences": [AUDIENCE]})
    session_only = {k: v for k, v in app.items() if k not in ("authenticate", "bearer")}
    config["routes"] += [
        {**session_only, "id": "plain", "match": {"host": "plain.test"}},
        {**session_only, "id": "passing", "match": {"host": "pass.test"}, "pass_authorization": True},
    ]
    return gateway_factory(config)


async def session_cookie(gateway: Gateway) -> str:
    """Alice's session cookie, from a real login at the corp provider."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        # Two providers: name the one to sign in with instead of using the chooser.
        start = f"{gateway.url}/.authgate/start?provider=corp&rd=/"
        callback = await login_at_provider(client, start, "alice", "alice-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
    return jar.filter_cookies(URL(gateway.url))["authgate"].value


async def test_credentials_on_a_session_route(
    session_and_bearer: Gateway, rogue_issuer: RogueProvider
) -> None:
    gateway = session_and_bearer
    cookie = ("Cookie", f"authgate={await session_cookie(gateway)}; theme=dark")
    basic = ("Authorization", "Basic YWRtaW46YWRtaW4=")
    ids: list[str] = []

    async def forwarded(target: str, headers: list[tuple[str, str]], host: str) -> list[tuple[str, str]]:
        got = received(await echo_of(gateway, target, headers, host=host))
        ids.append(next(v for n, v in got if n == "X-Request-Id"))
        return got

    # A session request: the Authorization nobody validated does not reach the app.
    for host in ("127.0.0.1", "plain.test"):
        got = await forwarded("/page", [cookie, basic], host)
        assert ("X-Authgate-User", "alice") in got
        assert "authorization" not in {n.lower() for n, _ in got}
        assert [v for n, v in got if n.lower() == "cookie"] == ["theme=dark"]
    # ... unless the route opts in; a public path passes it as sent.
    for host, target in (("pass.test", "/page"), ("plain.test", "/public/x")):
        assert basic in await forwarded(target, [cookie, basic], host)

    # A bearer next to the cookie is the credential: the user is the token's.
    bearer = ("Authorization", f"Bearer {token(rogue_issuer)}")
    got = await forwarded("/page", [cookie, bearer], "127.0.0.1")
    assert ("X-Authgate-User", "billing-bot") in got
    assert [(n.lower(), v) for n, v in got if n.lower() == "authorization"] == [("authorization", bearer[1])]
    # A bad bearer does not fall through to the session.
    forged = ("Authorization", "Bearer not.a.jwt")
    status, response, _ = await send(gateway, "/page", [cookie, forged], host="127.0.0.1")
    assert status == 401 and response["www-authenticate"].startswith("Bearer")
    ids.append(response["x-request-id"])

    records = records_of(gateway, ids)
    assert [r["user"] for r in records] == ["alice"] * 3 + [None, "billing-bot", None]
    assert [r["stripped"] for r in records[:4]] == [["authorization"], ["authorization"], [], []]
    assert records[-1]["decision"] == "login" and "token-issuer-invalid" in records[-1]["reason"]


def records_of(gateway: Gateway, request_ids: list[str], timeout: float = 10.0) -> list[dict[str, Any]]:
    """The records of these requests, in the same order (waiting for the log's batches)."""
    deadline = time.monotonic() + timeout
    while True:
        by_id = {r["request_id"]: r for r in gateway.decisions(0)}
        if all(i in by_id for i in request_ids) or time.monotonic() > deadline:
            return [by_id[i] for i in request_ids]
        time.sleep(0.05)


# --- forward-auth ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "status"),
    [
        (
            [("X-Forwarded-Method", "GET"), ("X-Forwarded-Proto", "http"), ("X-Forwarded-Host", "public.test"), ("X-Forwarded-Uri", "/x")],
            400,
        ),
        ([("X-Original-URL", "http://public.test/x"), ("X-Original-Method", "GET")], 403),
    ],
    ids=["forward", "nginx"],
)
@pytest.mark.parametrize(
    "duplicate",
    [
        [("Authorization", "Bearer a"), ("authorization", "Bearer b")],
        [("Cookie", "authgate=a"), ("Cookie", "authgate=b")],
    ],
    ids=["authorization", "cookie"],
)
async def test_forward_auth_refuses_duplicated_credentials(
    echo_gateway: Callable[..., Gateway],
    dialect: list[tuple[str, str]],
    status: int,
    duplicate: list[tuple[str, str]],
) -> None:
    gateway = echo_gateway(server={"trusted_proxies": ["127.0.0.1/32"]}, match={"host": "public.test"})
    ok, _, _ = await send(gateway, "/.authgate/auth", dialect, host="gateway")
    assert ok == 200
    refused, _, _ = await send(gateway, "/.authgate/auth", [*dialect, *duplicate], host="gateway")
    assert refused == status
    record = gateway.decisions(2)[1]
    assert (record["reason"], record["rule"], record["host"]) == (
        "duplicate-credentials",
        "forward-auth:credentials",
        "public.test",
    )
