"""Hot reload of a real gateway: applied, refused, and in-flight requests unaffected."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import yaml

from tests.ops.conftest import admin_url, edit_config, route, write_config
from tests.ops.test_admin import scrape
from tests.testbed.gateway import Gateway


async def status_for(gateway: Gateway, host: str, path: str = "/x") -> int:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{gateway.url}{path}", headers={"Host": host}) as response,
    ):
        await response.read()
        return response.status


async def wait_for_log(gateway: Gateway, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while text not in gateway.stderr():
        assert time.monotonic() < deadline, f"{text!r} not in the log:\n{gateway.stderr()}"
        await asyncio.sleep(0.05)
    return gateway.stderr()


def add_route(route_id: str, upstream: str) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["routes"].append(route(route_id, f"{route_id}.test", upstream))


async def test_a_changed_file_is_applied(
    ops_gateway: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = ops_gateway()
    assert await status_for(gateway, "two.test") == 404
    edit_config(gateway, add_route("two", upstream_url))
    log = await wait_for_log(gateway, "config reload (file changed) applied")
    assert "routes added ['two']" in log
    assert await status_for(gateway, "two.test") == 200
    assert await status_for(gateway, "echo.test") == 200
    seen = await scrape(gateway)
    assert seen[("authgate_config_reloads_total", (("result", "applied"),))] == 1


async def test_sighup_reloads(ops_gateway: Callable[..., Gateway], upstream_url: str) -> None:
    gateway = ops_gateway(server={"watch_config": False})
    edit_config(gateway, add_route("two", upstream_url))
    await asyncio.sleep(1.5)  # not watching: nothing happens on its own
    assert await status_for(gateway, "two.test") == 404
    gateway.signal(signal.SIGHUP)
    await wait_for_log(gateway, "config reload (SIGHUP) applied")
    assert await status_for(gateway, "two.test") == 200


async def test_an_invalid_file_is_refused_and_every_problem_logged(
    ops_gateway: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = ops_gateway()
    config = yaml.safe_load(gateway.config_path.read_text())
    config["routes"] = [
        route("echo", "echo.test", "http://127.0.0.1:1"),  # valid, but must not apply
        route("bad", "bad.test", "not-a-url"),
        {**route("worse", "worse.test", upstream_url), "public": ["no-slash"]},
    ]
    text = yaml.safe_dump(config, sort_keys=False)
    lines = text.splitlines()
    upstream_line = lines.index("  upstream: not-a-url") + 1
    public_line = lines.index("  - no-slash") + 1
    write_config(gateway.config_path, text)
    log = await wait_for_log(gateway, "config reload (file changed) rejected")
    path = gateway.config_path
    assert f"{path}:{upstream_line} routes[1].upstream:" in log
    assert f"{path}:{public_line} routes[2].public[0]:" in log
    assert "2 problems" in log
    assert await status_for(gateway, "echo.test") == 200  # the old upstream still serves
    assert await status_for(gateway, "bad.test") == 404
    seen = await scrape(gateway)
    assert seen[("authgate_config_reloads_total", (("result", "rejected"),))] == 1
    # Fixing the file applies it.
    config["routes"] = [
        route("echo", "echo.test", upstream_url),
        route("ok", "ok.test", upstream_url),
    ]
    write_config(gateway.config_path, yaml.safe_dump(config, sort_keys=False))
    await wait_for_log(gateway, "config reload (file changed) applied")
    assert await status_for(gateway, "ok.test") == 200


async def test_a_request_in_flight_finishes_on_the_route_a_reload_removed(
    ops_gateway: Callable[..., Gateway], upstream_url: str
) -> None:
    gateway = ops_gateway(server={"watch_config": False})
    async with aiohttp.ClientSession() as client:
        slow = asyncio.create_task(
            client.get(f"{gateway.url}/__slow?seconds=2", headers={"Host": "echo.test"})
        )
        await asyncio.sleep(0.5)  # the request is at the upstream now
        edit_config(
            gateway, lambda c: c.update(routes=[route("other", "other.test", upstream_url)])
        )
        gateway.signal(signal.SIGHUP)
        log = await wait_for_log(gateway, "config reload (SIGHUP) applied")
        assert "routes removed ['echo']" in log and not slow.done()
        assert await status_for(gateway, "echo.test") == 404  # new requests: gone
        response = await slow
        assert response.status == 200
        assert await response.json() == {"slow": True}
    records = [r for r in gateway.decisions(2) if r["path"] == "/__slow"]
    assert [(r["route"], r["status"]) for r in records] == [("echo", 200)]


async def test_reload_needing_a_restart_says_so(
    ops_gateway: Callable[..., Gateway],
) -> None:
    gateway = ops_gateway()
    edit_config(gateway, lambda c: c["server"].update(upstream_pool_size=7))
    log = await wait_for_log(gateway, "config reload (file changed) applied")
    assert "not applied until restart ['server.upstream_pool_size']" in log
    assert admin_url(gateway)  # the admin listener kept its address
