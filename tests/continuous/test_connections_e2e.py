"""Long-lived connections follow their session (docs/continuous.md): WebSockets and
streamed answers are closed within a second of the session ending or of the route's
policy no longer allowing the user — against the real `authgate serve`, the real
OpenID Provider and, across replicas, a real redis-server."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import WSMsgType

from tests.login.test_login_flow import log_in
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import DEFAULT_USERS, OIDCProvider

BOUND = 1.0  # seconds: the bound from the session's end to the connection's close
BROWSER = {"Accept": "text/html"}


def _browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _open_ws(client: aiohttp.ClientSession, gateway: Gateway) -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect(f"{gateway.url}/ws", headers={"Origin": gateway.url})
    await ws.send_str("ping")
    assert (await ws.receive(timeout=5)).data == "ping"
    return ws


async def _closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10.0) -> tuple[float, int | None, str]:
    """When the gateway's close arrived, its code and reason."""
    message = await ws.receive(timeout=timeout)
    assert message.type is WSMsgType.CLOSE, message
    return time.monotonic(), message.data, str(message.extra or "")  # the frame's own code


def _record_of(gateway: Gateway, path: str) -> dict[str, Any]:
    """The record of the (one) request to `path`, once it is written."""
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        found = [r for r in gateway.decisions(0) if r["path"] == path]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no record for {path}")


async def _reload(gateway: Gateway, change: Callable[[dict[str, Any]], None]) -> None:
    config = yaml.safe_load(gateway.config_path.read_text())
    change(config)
    gateway.config_path.write_text(yaml.safe_dump(config))
    gateway.signal(signal.SIGHUP)


def _deny_everyone(config: dict[str, Any]) -> None:
    config["routes"][0]["policy"] = {"allow": [{"groups": ["nobody-has-this"]}]}


async def _applied(gateway: Gateway) -> float:
    deadline = time.monotonic() + 15
    while "config reload (SIGHUP) applied" not in gateway.stderr():
        assert time.monotonic() < deadline, gateway.stderr()
        await asyncio.sleep(0.02)
    return time.monotonic()


@pytest.mark.parametrize("data_plane", ["native", "aiohttp"])
async def test_a_websocket_is_closed_when_a_reload_takes_the_users_access_away(
    data_plane: str,
    oidc_provider: OIDCProvider,
    upstream: str,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    config = login_config(oidc_provider, upstream, tmp_path / "keys.pem")
    config["server"] = {"data_plane": data_plane}  # native: the upgrade is handed over
    gateway = gateway_factory(config)
    async with _browser() as client:
        await log_in(client, gateway, "/")
        ws = await _open_ws(client, gateway)
        await _reload(gateway, _deny_everyone)
        (closed, code, reason), applied = await asyncio.gather(_closed(ws), _applied(gateway))
    assert code == 1008  # RFC 6455 §7.4.1 policy violation
    assert "policy-changed" in reason
    assert closed - applied < BOUND
    record = _record_of(gateway, "/ws")
    assert record["decision"] == "deny"
    assert record["reason"].split(",")[-1] == "policy-changed"
    assert record["status"] == 101  # what the client got: the upgrade, then the close


@pytest.mark.parametrize("data_plane", ["native", "aiohttp"])
async def test_a_stream_is_cut_when_a_reload_takes_the_users_access_away(
    data_plane: str,
    oidc_provider: OIDCProvider,
    upstream: str,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    config = login_config(oidc_provider, upstream, tmp_path / "keys.pem")
    config["server"] = {"data_plane": data_plane}
    gateway = gateway_factory(config)
    async with _browser() as client:
        await log_in(client, gateway, "/")
        async with client.get(f"{gateway.url}/sse") as r:
            assert r.status == 200
            assert (await r.content.readline()).startswith(b"data: ")
            await _reload(gateway, _deny_everyone)
            applied_at = asyncio.ensure_future(_applied(gateway))
            with pytest.raises(aiohttp.ClientError):
                while await r.content.readany():  # the stream goes on until it is cut
                    pass
                raise aiohttp.ClientPayloadError("the stream ended cleanly")  # it must not
            cut = time.monotonic()
        applied = await applied_at
    assert cut - applied < BOUND
    record = _record_of(gateway, "/sse")
    assert (record["decision"], record["reason"].split(",")[-1]) == ("deny", "policy-changed")


async def test_a_websocket_is_closed_when_reverification_finds_a_group_removed(
    oidc_provider_factory: Callable[..., OIDCProvider],
    upstream: str,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    provider = oidc_provider_factory()
    route = {"policy": {"allow": [{"groups": ["admins"]}]}, "reverify_every": "1s"}
    gateway = gateway_factory(login_config(provider, upstream, tmp_path / "keys.pem", route=route))
    async with _browser() as client:
        await log_in(client, gateway, "/")
        ws = await _open_ws(client, gateway)
        provider.set_user_claims("alice", dict(DEFAULT_USERS["alice"]["claims"], groups=["hr-staff"]))
        removed = time.monotonic()
        closed, code, reason = await _closed(ws)
    assert code == 1008
    # Due 1 s after the login at the latest, checked by a sweep every 0.5 s.
    assert closed - removed < 1.0 + 0.5 + BOUND
    record = _record_of(gateway, "/ws")
    assert record["reason"].split(",")[-2:] == ["groups-unauthorized", "groups-changed"]
