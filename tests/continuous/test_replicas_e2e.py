"""A WebSocket open on one replica is closed within a second of a logout made on
another: three gateway processes on one real redis-server (docs/continuous.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.continuous.test_connections_e2e import BOUND, BROWSER, _browser, _closed, _open_ws, _record_of
from tests.login.test_login_flow import log_in
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import DEFAULT_USERS, OIDCProvider, parse_forms
from tests.testbed.redis import RedisServer

async def _log_out(client: aiohttp.ClientSession, gateway: Gateway) -> float:
    async with client.get(f"{gateway.url}/.authgate/logout", headers=BROWSER) as r:
        (form,), _ = parse_forms(await r.text())
    sent = time.monotonic()
    async with client.post(
        f"{gateway.url}/.authgate/logout", data=form["fields"], headers={"Origin": gateway.url},
        allow_redirects=False,
    ) as r:
        assert r.status == 303, await r.text()
        return sent


JSON = {"Accept": "application/json"}
TRIALS = 12


async def test_a_websocket_on_one_replica_is_closed_within_a_second_of_a_logout_on_another(
    oidc_provider: OIDCProvider,
    upstream: str,
    gateway_factory: Callable[..., Gateway],
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    config = login_config(
        oidc_provider, upstream, tmp_path / "keys.pem",
        store={"backend": "redis", "url": redis_server.url, "key_prefix": f"ws-{time.time_ns()}:"},
    )
    config["limits"] = {"login": None}  # a login per trial, all from 127.0.0.1
    gateways = [gateway_factory(config) for _ in range(3)]
    await asyncio.sleep(0.5)  # every replica subscribed to the channel
    delays = []
    for trial in range(TRIALS):
        one, other = gateways[trial % 3], gateways[(trial + 1) % 3]
        async with _browser() as client:
            await log_in(client, one, "/")
            ws = await _open_ws(client, other)  # the same session cookie: one store
            logged_out = await _log_out(client, one)
            closed, code, reason = await _closed(ws)
        assert (code, reason) == (1008, "session-ended"), (trial, code, reason, other.stderr()[-3000:])
        delays.append(closed - logged_out)
    print(f"logout on one replica -> WebSocket closed on another: {sorted(delays)}")
    assert max(delays) < BOUND
    for gateway in gateways:
        closes = [r for r in gateway.decisions(0) if r["path"] == "/ws"]
        assert closes and all((r["decision"], r["reason"], r["status"]) == ("deny", "session-ended", 101) for r in closes)


async def test_a_refresh_on_one_replica_reaches_the_others_caches(
    oidc_provider_factory: Callable[..., OIDCProvider],
    upstream: str,
    gateway_factory: Callable[..., Gateway],
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    # The refresh is written through the store (replace_identity), which announces
    # session-changed: the other replica's session cache drops its copy, so the removed
    # group is denied there too — without a refresh of its own.
    provider = oidc_provider_factory()
    route = {"policy": {"allow": [{"groups": ["admins"]}]}, "reverify_every": "1s"}
    config = login_config(
        provider, upstream, tmp_path / "keys.pem", route=route,
        store={"backend": "redis", "url": redis_server.url, "key_prefix": f"rf-{time.time_ns()}:"},
    )
    one, other = gateway_factory(config), gateway_factory(config)
    await asyncio.sleep(0.5)  # both subscribed to the channel
    async with _browser() as client:
        await log_in(client, one, "/")
        async with client.get(f"{other.url}/a", headers=JSON) as r:
            assert r.status == 200  # read once: in the other replica's cache now
        provider.set_user_claims("alice", dict(DEFAULT_USERS["alice"]["claims"], groups=["hr-staff"]))
        await asyncio.sleep(1.1)
        async with client.get(f"{one.url}/a", headers=JSON) as r:
            assert r.status == 403  # refreshed here
        async with client.get(f"{other.url}/a", headers=JSON) as r:
            assert r.status == 403, await r.text()  # the new identity, not the cached one
    assert provider.log_text(200_000).count("POST /token") == 2  # the login, one refresh
