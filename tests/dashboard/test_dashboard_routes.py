"""The dashboard's routes on a real gateway's admin listener: guards, bounds, headers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp

from authgate.ops.dashboard import CSP
from tests.ops.conftest import admin_url, edit_config, ops_gateway, upstream_url  # noqa: F401
from tests.testbed.gateway import Gateway

UPLOT = Path(__file__).resolve().parents[2] / "src/authgate/dashboard/static/uPlot.iife.min.js"


async def test_page_static_files_and_their_headers(ops_gateway: Callable[..., Gateway]) -> None:
    gateway = ops_gateway()
    admin = admin_url(gateway)
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{admin}/dashboard") as r:
            assert r.status == 200 and r.content_type == "text/html"
            assert r.headers["Content-Security-Policy"] == CSP
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert "/dashboard/static/uPlot.iife.min.js" in await r.text()
        async with client.get(f"{admin}/dashboard/static/uPlot.iife.min.js") as r:
            assert r.status == 200 and await r.read() == UPLOT.read_bytes()
            assert r.content_type == "text/javascript"
        for name in ("dashboard.html.bak", "..%2F..%2Fpyproject.toml", "__init__.py"):
            async with client.get(f"{admin}/dashboard/static/{name}") as r:
                assert r.status == 404, name  # a fixed list of names, nothing else
        async with client.get(f"{gateway.url}/dashboard", headers={"Host": "echo.test"}) as r:
            assert "authgate · decisions" not in await r.text()  # public listener: the upstream's


async def test_foreign_host_names_are_refused(ops_gateway: Callable[..., Gateway]) -> None:
    gateway = ops_gateway(decision_log={"dashboard": {"hosts": ["ops.example.com"]}})
    admin = admin_url(gateway)
    async with aiohttp.ClientSession() as client:
        for host, status in (
            ("rebind.attacker.example", 403), ("127.0.0.1:1", 200), ("localhost:9", 200),
            ("[::1]:9090", 200), ("ops.example.com", 200), ("OPS.example.com.:80", 200),
        ):
            async with client.get(f"{admin}/dashboard/api/summary", headers={"Host": host}) as r:
                assert r.status == status, host


async def test_bad_filters_are_400_naming_the_parameter(ops_gateway: Callable[..., Gateway]) -> None:
    gateway = ops_gateway()
    admin = admin_url(gateway)
    async with aiohttp.ClientSession() as client:
        for query, name in (("decision=maybe", "decision"), ("since=yesterday", "since"),
                            ("limit=100000", "limit"), ("until=nan", "until")):
            async with client.get(f"{admin}/dashboard/api/decisions?{query}") as r:
                assert r.status == 400
                assert (await r.json())["error"].startswith(name), query
        async with client.get(f"{admin}/dashboard/api/decisions/no-such-request") as r:
            assert r.status == 404


async def test_live_connections_are_bounded(ops_gateway: Callable[..., Gateway]) -> None:
    gateway = ops_gateway(decision_log={"dashboard": {"clients": 1}})
    admin = admin_url(gateway)
    async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as second:
        async with first.get(f"{admin}/dashboard/events") as live:
            assert live.headers["Content-Type"].startswith("text/event-stream")
            async with asyncio.timeout(10):
                while b"event: tick" not in await live.content.readline():
                    pass
            async with second.get(f"{admin}/dashboard/events") as refused:
                assert refused.status == 503
        await asyncio.sleep(1.5)  # the first one's tick write fails, and it leaves
        async with second.get(f"{admin}/dashboard/events") as again:
            assert again.status == 200


async def test_off_means_not_served(ops_gateway: Callable[..., Gateway]) -> None:
    gateway = ops_gateway(decision_log={"dashboard": {"enabled": False}})
    async with aiohttp.ClientSession() as client:
        for path in ("/dashboard", "/dashboard/api/summary", "/dashboard/events"):
            async with client.get(f"{admin_url(gateway)}{path}") as r:
                assert r.status == 404, path
        async with client.get(f"{admin_url(gateway)}/metrics") as r:
            assert r.status == 200


async def test_a_record_is_explained_against_the_config_running_now(
    ops_gateway: Callable[..., Gateway],
) -> None:
    gateway = ops_gateway()
    admin = admin_url(gateway)
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/reports/q3", headers={"Host": "echo.test"}) as r:
            assert r.status == 200
            request_id = r.headers["X-Request-Id"]
        # The route closes: a reload replaces the public paths by a policy that denies.
        def close(config: dict[str, object]) -> None:
            route = config["routes"][0]  # type: ignore[index]
            route.pop("public")
            route["policy"] = {"deny": [{"path": ["/reports/**"]}], "allow": [{"authenticated": True}]}

        edit_config(gateway, close)
        deadline = asyncio.get_running_loop().time() + 15
        while "config reload (file changed) applied" not in gateway.stderr():
            assert asyncio.get_running_loop().time() < deadline, gateway.stderr()
            await asyncio.sleep(0.1)
        async with client.get(f"{admin}/dashboard/api/decisions/{request_id}") as r:
            detail = await r.json()
    assert detail["decision"] == "allow" and detail["rule"] == "routes[echo].public[0]"
    explained = detail["explain"]
    assert explained["config_generation"] == 1
    assert explained["decision"] == "deny" and explained["rule"] == "routes[echo].policy.deny[0]"
    assert explained["same_as_recorded"] is False
