"""A reload per config section: after SIGHUP the new generation serves that section.

Each test starts a real `authgate serve`, shows the section's effect as started,
rewrites the file (atomically) and sends SIGHUP, waits for the `applied` line, and
then shows the new value serving. A reload that is logged as applied while the old
objects keep serving fails here. Bearer tokens come from an in-test provider
(`tests/oidc/rogue.py`), GeoIP answers from `.mmdb` files built by the test
(`tests/geo/conftest.py`); sessions use the real OpenID Provider.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from tests.geo.conftest import CITY_RECORDS, LONDON_IP, PARIS_IP, build_mmdb
from tests.oidc.rogue import RogueProvider, claims, ec_key, mint, rsa_key
from tests.ops.conftest import edit_config, route
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET, login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider

APPLIED = "config reload (SIGHUP) applied"
AUDIENCE = "api://orders"
JSON = {"Accept": "application/json"}
Config = dict[str, Any]


@dataclass
class Answer:
    status: int
    body: Any  # the echo upstream's JSON, else the text
    headers: dict[str, str]

    def upstream_header(self, name: str) -> str | None:
        """A header as the echo upstream received it (None: not sent)."""
        found = [v for k, v in self.body["headers"] if k.lower() == name.lower()]
        return found[0] if found else None


async def get(gateway: Gateway, host: str, path: str = "/x", **headers: str) -> Answer:
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            f"{gateway.url}{path}", headers={"Host": host, **headers}, allow_redirects=False
        ) as response,
    ):
        text = await response.text()
        json_body = response.content_type == "application/json"
        body = await response.json() if json_body else text
        return Answer(response.status, body, dict(response.headers))


async def reload(gateway: Gateway, change: Callable[[Config], None]) -> str:
    """Rewrite the file with `change`, SIGHUP, and wait for one more `applied` line."""
    before = gateway.stderr().count(APPLIED)
    edit_config(gateway, change)
    gateway.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while (log := gateway.stderr()).count(APPLIED) <= before:
        assert "rejected" not in log[len(log) // 2 :], log
        assert time.monotonic() < deadline, f"no reload applied:\n{log}"
        await asyncio.sleep(0.05)
    return log


def last_record(gateway: Gateway, count: int) -> dict[str, Any]:
    records = gateway.decisions(count)
    assert len(records) >= count, records
    return records[-1]


# --- the parts: a public route, a bearer route, providers -----------------------------


def base(*routes: Config, **top: Any) -> Config:
    """A gateway that reloads on SIGHUP only (so each test decides when)."""
    server = {"watch_config": False, **top.pop("server", {})}
    return {"server": server, "routes": list(routes), **top}


def api_route(upstream: str, **extra: Any) -> Config:
    """`api.test`: bearer tokens for AUDIENCE only."""
    return {
        "id": "api",
        "match": {"host": "api.test"},
        "upstream": upstream,
        "authenticate": ["bearer"],
        "bearer": {"audiences": [AUDIENCE]},
        **extra,
    }


def provider(rogue: RogueProvider, provider_id: str = "rogue") -> Config:
    return {"id": provider_id, "issuer": rogue.issuer, "client_id": "gateway"}


def with_bearer(rogue: RogueProvider, *routes: Config, **top: Any) -> Config:
    secrets = {"cookie_secret": COOKIE_SECRET}
    return base(*routes, secrets=secrets, providers=[provider(rogue)], **top)


def token(rogue: RogueProvider, subject: str = "svc-42", **changes: Any) -> str:
    now = int(time.time())
    values = {
        "iss": rogue.issuer, "sub": subject, "aud": AUDIENCE, "iat": now, "exp": now + 300,
        "preferred_username": "billing-bot", "groups": ["orders-admin"], **changes,
    }  # fmt: skip
    return mint(claims(**values), rogue.published[0])


def bearer(rogue: RogueProvider, **changes: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(rogue, **changes)}", **JSON}


@pytest_asyncio.fixture
async def rogue_factory() -> AsyncIterator[Callable[[], Any]]:
    servers: list[TestServer] = []

    async def start() -> RogueProvider:
        rogue = RogueProvider(published=[rsa_key(f"rsa-{len(servers)}"), ec_key("ec-1")])
        server = TestServer(rogue.app(), host="127.0.0.1")
        await server.start_server()
        rogue.issuer = f"http://127.0.0.1:{server.port}"
        servers.append(server)
        return rogue

    yield start
    for server in servers:
        await server.close()


@pytest_asyncio.fixture
async def rogue(rogue_factory: Callable[[], Any]) -> RogueProvider:
    provider: RogueProvider = await rogue_factory()
    return provider


def edit_route(route_id: str, **values: Any) -> Callable[[Config], None]:
    def change(config: Config) -> None:
        found = next(r for r in config["routes"] if r["id"] == route_id)
        found.update(values)

    return change


# --- routes ---------------------------------------------------------------------------


async def test_routes_a_new_route_serves(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))
    assert (await get(gateway, "two.test")).status == 404
    await reload(gateway, lambda c: c["routes"].append(route("two", "two.test", upstream_url)))
    assert (await get(gateway, "two.test")).status == 200


async def test_routes_a_changed_policy_decides(
    gateway_factory: Callable[..., Gateway], upstream_url: str, rogue: RogueProvider
) -> None:
    allow = {"allow": [{"groups": ["orders-admin"]}]}
    gateway = gateway_factory(with_bearer(rogue, api_route(upstream_url, policy=allow)))
    assert (await get(gateway, "api.test", **bearer(rogue))).status == 200
    await reload(gateway, edit_route("api", policy={"allow": [{"groups": ["finance"]}]}))
    assert (await get(gateway, "api.test", **bearer(rogue))).status == 403
    assert "groups-unauthorized" in last_record(gateway, 2)["reason"]


async def test_routes_changed_header_templates_are_sent(
    gateway_factory: Callable[..., Gateway], upstream_url: str, rogue: RogueProvider
) -> None:
    own = {"X-Team": "{claims.groups}"}
    gateway = gateway_factory(with_bearer(rogue, api_route(upstream_url, headers=own)))
    first = await get(gateway, "api.test", **bearer(rogue))
    assert (first.upstream_header("X-Team"), first.upstream_header("X-Who")) == ("orders-admin", None)
    await reload(gateway, edit_route("api", headers={"X-Who": "{claims.sub}"}))
    after = await get(gateway, "api.test", **bearer(rogue))
    assert (after.upstream_header("X-Team"), after.upstream_header("X-Who")) == (None, "svc-42")


async def test_routes_a_new_rate_limit_refuses(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))
    assert [(await get(gateway, "echo.test")).status for _ in range(3)] == [200] * 3
    limit = {"key": "client_ip", "rate": "1/m", "burst": 1}
    await reload(gateway, edit_route("echo", rate_limit=limit))
    assert [(await get(gateway, "echo.test")).status for _ in range(2)] == [200, 429]


async def test_routes_a_new_adaptive_block_scores(
    gateway_factory: Callable[..., Gateway], upstream_url: str, rogue: RogueProvider
) -> None:
    gateway = gateway_factory(with_bearer(rogue, api_route(upstream_url)))
    assert (await get(gateway, "api.test", **bearer(rogue))).status == 200
    assert last_record(gateway, 1)["signals"] == []
    adaptive = {"reputation": ["127.0.0.0/8"], "step_up_at": 90, "deny_at": 100}
    await reload(gateway, edit_route("api", adaptive=adaptive))
    assert (await get(gateway, "api.test", **bearer(rogue))).status == 200
    record = last_record(gateway, 2)
    assert (record["signals"], record["risk"]) == (["ip-reputation"], 50)


# --- top-level sections ---------------------------------------------------------------


async def test_headers_a_preset_is_sent(
    gateway_factory: Callable[..., Gateway], upstream_url: str, rogue: RogueProvider
) -> None:
    gateway = gateway_factory(with_bearer(rogue, api_route(upstream_url)))
    assert (await get(gateway, "api.test", **bearer(rogue))).upstream_header("X-Forwarded-User") is None
    await reload(gateway, lambda c: c.update(headers={"preset": "oauth2-proxy"}))
    after = await get(gateway, "api.test", **bearer(rogue))
    assert after.upstream_header("X-Forwarded-User") == "svc-42"


async def test_limits_a_lower_inflight_cap_sheds(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))

    async def slow_and_one_more() -> tuple[int, int]:
        slow = asyncio.create_task(get(gateway, "echo.test", "/__slow?seconds=1"))
        await asyncio.sleep(0.4)  # the slow one holds its upstream slot now
        other = await get(gateway, "echo.test")
        return (await slow).status, other.status

    assert await slow_and_one_more() == (200, 200)
    await reload(gateway, lambda c: c.update(limits={"max_inflight_per_upstream": 1}))
    assert await slow_and_one_more() == (200, 503)


async def test_geoip_a_different_database_answers(
    gateway_factory: Callable[..., Gateway], upstream_url: str, tmp_path: Path
) -> None:
    first = build_mmdb(tmp_path / "first.mmdb", CITY_RECORDS)
    moved = {**CITY_RECORDS, "51.0.0.0/8": {"country": {"iso_code": "IE"}}}
    second = build_mmdb(tmp_path / "second.mmdb", moved)
    config = base(
        route("echo", "echo.test", upstream_url),
        server={"trusted_proxies": ["127.0.0.0/8"]},
        geoip={"city": str(first)},
    )
    gateway = gateway_factory(config)
    await get(gateway, "echo.test", **{"X-Forwarded-For": LONDON_IP})
    assert last_record(gateway, 1)["country"] == "GB"
    await reload(gateway, lambda c: c.update(geoip={"city": str(second)}))
    await get(gateway, "echo.test", **{"X-Forwarded-For": LONDON_IP})
    assert last_record(gateway, 2)["country"] == "IE"


def posture_token(rogue: RogueProvider, device_id: str) -> str:
    now = int(time.time())
    values = {"iss": rogue.issuer, "aud": "authgate", "sub": "agent-7", "iat": now,
              "exp": now + 300, "device_id": device_id}  # fmt: skip
    return mint(claims(**values), rogue.published[0])


async def test_devices_a_posture_verifier_reads_tokens(
    gateway_factory: Callable[..., Gateway], upstream_url: str, rogue: RogueProvider
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))
    header = {"X-Device-Posture": posture_token(rogue, "MDM-42")}
    await get(gateway, "echo.test", **header)
    assert last_record(gateway, 1)["device"] is None
    posture = {"issuer": rogue.issuer, "jwks_uri": f"{rogue.issuer}/jwks",
               "audience": "authgate", "header": "X-Device-Posture"}  # fmt: skip
    await reload(gateway, lambda c: c.update(devices={"posture": posture}))
    await get(gateway, "echo.test", **header)
    assert last_record(gateway, 2)["device"] == "posture:MDM-42"


async def test_risk_history_fewer_countries_are_remembered(
    gateway_factory: Callable[..., Gateway],
    upstream_url: str,
    rogue: RogueProvider,
    tmp_path: Path,
) -> None:
    adaptive = {"step_up_at": 90, "deny_at": 100}
    config = with_bearer(
        rogue,
        api_route(upstream_url, adaptive=adaptive),
        server={"trusted_proxies": ["127.0.0.0/8"]},
        geoip={"city": str(build_mmdb(tmp_path / "city.mmdb", CITY_RECORDS))},
    )
    gateway = gateway_factory(config)

    async def london_paris_london(subject: str) -> list[bool]:
        """Whether each of three requests (London, Paris, London) raised new-country."""
        seen = []
        for address in (LONDON_IP, PARIS_IP, LONDON_IP):
            answer = await get(gateway, "api.test", **bearer(rogue, sub=subject), **{"X-Forwarded-For": address})
            assert answer.status == 200
            seen.append("new-country" in last_record(gateway, len(requests) + 1)["signals"])
            requests.append(address)
        return seen

    requests: list[str] = []

    # Both countries remembered: back in London is not new.
    assert await london_paris_london("first") == [False, True, False]
    await reload(gateway, lambda c: c.update(risk_history={"max_countries": 1}))
    # One country remembered: Paris pushed London out, so London is new again.
    assert await london_paris_london("second") == [False, True, True]


async def test_pages_a_new_title_is_shown(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))
    html = {"Accept": "text/html"}
    assert "Example Corp" not in (await get(gateway, "nowhere.test", **html)).body
    await reload(gateway, lambda c: c.update(pages={"title": "Example Corp"}))
    assert "Example Corp" in (await get(gateway, "nowhere.test", **html)).body


async def test_server_trusted_proxies_decide_the_client_ip(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))
    forwarded = {"X-Forwarded-For": "192.0.2.7"}
    await get(gateway, "echo.test", **forwarded)
    assert last_record(gateway, 1)["client_ip"] == "127.0.0.1"
    await reload(gateway, lambda c: c["server"].update(trusted_proxies=["127.0.0.0/8"]))
    await get(gateway, "echo.test", **forwarded)
    assert last_record(gateway, 2)["client_ip"] == "192.0.2.7"


async def test_server_strip_headers_are_stripped(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))
    sent = {"X-Tenant-Id": "acme"}
    assert (await get(gateway, "echo.test", **sent)).upstream_header("X-Tenant-Id") == "acme"
    await reload(gateway, lambda c: c["server"].update(strip_headers=["X-Tenant-Id"]))
    assert (await get(gateway, "echo.test", **sent)).upstream_header("X-Tenant-Id") is None


async def test_server_upstream_timeouts_apply(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))
    assert (await get(gateway, "echo.test", "/__slow?seconds=1")).status == 200
    await reload(gateway, lambda c: c["server"].update(upstream_timeouts={"read": "200ms"}))
    assert (await get(gateway, "echo.test", "/__slow?seconds=1")).status == 504


async def test_providers_a_new_providers_tokens_validate(
    gateway_factory: Callable[..., Gateway], upstream_url: str, rogue_factory: Callable[[], Any]
) -> None:
    first, second = await rogue_factory(), await rogue_factory()
    gateway = gateway_factory(with_bearer(first, api_route(upstream_url)))
    assert (await get(gateway, "api.test", **bearer(first))).status == 200
    assert (await get(gateway, "api.test", **bearer(second))).status == 401
    await reload(gateway, lambda c: c["providers"].append(provider(second, "second")))
    assert (await get(gateway, "api.test", **bearer(second))).status == 200
    assert last_record(gateway, 3)["provider"] == "second"


async def test_sessions_a_shorter_idle_timeout_ends_sessions(
    oidc_provider: OIDCProvider,
    gateway_factory: Callable[..., Gateway],
    upstream_url: str,
    tmp_path: Path,
) -> None:
    config = login_config(oidc_provider, upstream_url, tmp_path / "keys.pem")
    config["server"] = {"watch_config": False}
    gateway = gateway_factory(config)

    async def idle_then_request() -> int:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            start = f"{gateway.url}/.authgate/start?rd=/"
            callback = await login_at_provider(client, start, "alice", "alice-password")
            async with client.get(callback, allow_redirects=False) as r:
                assert r.status == 302
            await asyncio.sleep(1.5)
            async with client.get(f"{gateway.url}/app", headers=JSON, allow_redirects=False) as r:
                return r.status

    assert await idle_then_request() == 200
    await reload(gateway, lambda c: c.update(sessions={"idle_timeout": "1s"}))
    assert await idle_then_request() == 401


async def test_server_max_body_refuses_larger_bodies(
    gateway_factory: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = gateway_factory(base(route("echo", "echo.test", upstream_url)))

    async def post() -> int:
        async with (
            aiohttp.ClientSession() as client,
            client.post(f"{gateway.url}/x", data=b"x" * 4096, headers={"Host": "echo.test"}) as r,
        ):
            await r.read()
            return r.status

    assert await post() == 200
    await reload(gateway, lambda c: c["server"].update(max_body=1024))
    assert await post() == 413


async def test_secrets_new_assertion_keys_are_published(
    gateway_factory: Callable[..., Gateway], upstream_url: str, rogue: RogueProvider, tmp_path: Path
) -> None:
    gateway = gateway_factory(with_bearer(rogue, api_route(upstream_url)))

    async def published() -> set[str]:
        answer = await get(gateway, "api.test", "/.authgate/jwks.json")
        assert answer.status == 200
        return {key["kid"] for key in answer.body["keys"]}

    before = await published()
    new_file = str(tmp_path / "rotated.pem")
    await reload(gateway, lambda c: c["secrets"].update(assertion_keys=new_file))
    after = await published()
    assert before and after and before.isdisjoint(after)
