"""The live dashboard in a real Chromium, against a real `authgate serve` with real traffic.

The test makes allowed, denied, login, stepped-up and rate-limited requests (the real
OpenID Provider for the logins), then reads the page's own data — the DOM tables and
the uPlot charts' data arrays — and checks it against the decision log the gateway
wrote (the file sink: the ground truth, not numbers written into the test). Filters
are applied through the form, a record is opened by a click, live updates arrive by
server-sent events, and screenshots go to `test-artifacts/`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from tests.login.test_login_flow import BROWSER
from tests.policy_e2e.test_policy_gateway import API, sign_in
from tests.testbed.browser import save_screenshot
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider
from tests.testbed.ports import free_port, wait_for_port

pytestmark = pytest.mark.slow

OUTCOMES = ("allow", "deny", "login", "step_up", "rate_limited", "error")
LIMITED = {"Accept": "application/json", "Host": "api.test"}


def dashboard_config(provider: OIDCProvider, upstream: str, key: Path, admin: int) -> dict[str, Any]:
    config = login_config(
        provider, upstream, key,
        route={
            "policy": {"allow": [{"groups": ["hr-staff"]}]},
            "step_up": {"paths": ["/admin/**"], "acr": "mfa"},
            # Scores and signals for the risk panels (ip-reputation fires), below any action.
            "adaptive": {"step_up_at": 95, "deny_at": 99, "reputation": ["127.0.0.0/8"]},
        },
    )
    config["routes"].append({
        "id": "api", "match": {"host": "api.test"}, "upstream": upstream, "public": ["/**"],
        "rate_limit": {"key": "client_ip", "rate": "6/m", "burst": 3},
    })
    config["server"] = {"admin_listen": f"127.0.0.1:{admin}"}
    return config


async def make_traffic(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as client:
        for index in range(6):  # the burst is 3: then refusals
            async with client.get(f"{gateway.url}/n{index}", headers=LIMITED) as r:
                await r.read()
        async with client.get(f"{gateway.url}/private", headers=API) as r:
            assert r.status == 401  # login
    await asyncio.sleep(1.1)  # a later second for the rest: the time filter has two sides
    for user in ("alice", "bob"):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            await sign_in(client, gateway, "/payroll", user)
            async with client.get(f"{gateway.url}/payroll", headers=BROWSER) as r:
                assert r.status == (200 if user == "alice" else 403)
            if user == "alice":
                async with client.get(f"{gateway.url}/admin/users", headers=BROWSER,
                                      allow_redirects=False) as r:
                    assert r.status == 302 and "step_up=1" in r.headers["Location"]
                await asyncio.sleep(1.1)  # bob's requests in a later second still


def settled(gateway: Gateway) -> list[dict[str, Any]]:
    """The log once it stops growing (the writer coalesces for 20 ms)."""
    records = gateway.decisions(1)
    while True:
        time.sleep(0.3)
        again = gateway.decisions(len(records))
        if len(again) == len(records):
            return [r for r in again if "request_id" in r]
        records = again


async def poll(page: Page, expression: str, timeout: float = 15.0) -> Any:
    """page.evaluate until truthy. (wait_for_function evaluates a string, which the
    page's CSP — no 'unsafe-eval' — forbids, as it should.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = await page.evaluate(expression)
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def table_ids(page: Page) -> list[str]:
    return list(await page.evaluate(
        "[...document.querySelectorAll('#decisions tbody tr')].map(tr => tr.dataset.requestId)"
    ))


async def apply_filters(page: Page, **values: str) -> list[str]:
    await page.click("#f-clear")
    for name, value in values.items():
        if name == "decision":
            await page.select_option("#f-decision", value)
        else:
            await page.fill(f"#f-{name}", value)
    await page.click("#f-apply")
    # The table shows these filters once the page's last query carries exactly them.
    wanted = json.dumps(sorted({*values, "limit"}), separators=(",", ":"))
    checks = " && ".join(
        f"f[{name!r}] === {value!r}" for name, value in values.items() if name not in ("since", "until")
    ) or "true"
    assert await poll(
        page,
        f"(f => JSON.stringify(Object.keys(f).sort()) === {wanted!r} && {checks})"
        "(window.dashboard.filters)",
    ), values
    return await table_ids(page)


async def test_dashboard_shows_the_gateways_decisions(
    page: Page,
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    admin = free_port()
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    gateway = gateway_factory(dashboard_config(oidc_provider, upstream, tmp_path / "k.pem", admin))
    wait_for_port("127.0.0.1", admin, timeout=15.0, process=gateway.process)
    await make_traffic(gateway)
    records = settled(gateway)
    by_outcome = Counter(r["decision"] for r in records)
    assert all(by_outcome[o] >= 1 for o in ("allow", "deny", "login", "step_up", "rate_limited"))

    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.set_viewport_size({"width": 1400, "height": 1000})
    await page.goto(f"http://127.0.0.1:{admin}/dashboard")
    assert await poll(page, "window.dashboard.loaded === true && window.dashboard.ticks >= 1")

    # Counts: the cards (DOM) and the chart's data arrays both match the log.
    for outcome in OUTCOMES:
        card = await page.text_content(f"#total-{outcome} .n")
        assert int(card or "-1") == by_outcome[outcome], outcome
    sums = await page.evaluate(
        "window.dashboard.charts.outcomes.data.slice(1).map(a => a.reduce((x, y) => x + y, 0))"
    )
    assert dict(zip(OUTCOMES, sums, strict=True)) == {o: by_outcome[o] for o in OUTCOMES}
    refusals = sum(1 for r in records if r["reason"] == "rate-limited")
    limit_sums = await page.evaluate(
        "window.dashboard.charts.limits.data[1].reduce((x, y) => x + y, 0)"
    )
    assert limit_sums == refusals >= 1

    # Top tables: deny reasons, routes and refused users as the log has them.
    deny_reasons = Counter(
        code for r in records if r["decision"] == "deny" for code in r["reason"].split(",")
    )
    shown = await page.evaluate(
        "[...document.querySelectorAll('#top-deny_reasons tr')].map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert {k: int(v) for k, v in shown} == dict(deny_reasons)
    users = Counter(r["user"] for r in records
                    if r["decision"] in ("deny", "rate_limited") and r["user"])
    shown = await page.evaluate(
        "[...document.querySelectorAll('#top-refused_users tr')].map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert {k: int(v) for k, v in shown} == dict(users) and "bob" in users
    routes = Counter(r["route"] or "(no route)" for r in records)
    shown = await page.evaluate(
        "[...document.querySelectorAll('#top-routes tr')].map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert {k: int(v) for k, v in shown} == dict(routes)
    latency_routes = await page.evaluate(
        "[...document.querySelectorAll('#latency tbody tr')].map(tr => tr.dataset.route)"
    )
    assert set(latency_routes) == {r["route"] or "" for r in records}
    # The risk bands (chart data) and the signals that fired, as in the log.
    scored = [r for r in records if r["risk"] is not None]
    bands = [0] * 10
    for r in scored:
        bands[min(r["risk"] // 10, 9)] += 1
    assert await page.evaluate("window.dashboard.charts.risk.data[1]") == bands
    signals = Counter(s for r in records for s in r["signals"])
    shown = await page.evaluate(
        "[...document.querySelectorAll('#top-signals tr')].map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert {k: int(v) for k, v in shown} == dict(signals) and signals
    await save_screenshot(page, "dashboard-1-overview")

    # The table: every record, newest first.
    newest_first = [r["request_id"] for r in sorted(records, key=lambda r: r["time"], reverse=True)]
    assert set(await table_ids(page)) == set(newest_first)

    # Filters, through the form.
    denied = [r["request_id"] for r in records if r["decision"] == "deny"]
    assert set(await apply_filters(page, decision="deny")) == set(denied)
    bobs = [r["request_id"] for r in records if r["user"] == "bob"]
    assert set(await apply_filters(page, user="bob")) == set(bobs)
    limited = [r["request_id"] for r in records
               if r["route"] == "api" and r["decision"] == "rate_limited"]
    assert set(await apply_filters(page, route="api", decision="rate_limited")) == set(limited)
    unauthorized = [r["request_id"] for r in records if "groups-unauthorized" in r["reason"].split(",")]
    assert set(await apply_filters(page, reason="groups-unauthorized")) == set(unauthorized)
    assert unauthorized
    # A time range: from the step-up on (the datetime-local field is in local time).
    step_up = next(r for r in records if r["decision"] == "step_up")
    step_up_time = _epoch(step_up["time"])
    since = await page.evaluate(
        "t => { const d = new Date(Math.floor(t) * 1000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        " return d.toISOString().slice(0, 19); }", step_up_time
    )
    later = [r["request_id"] for r in records if _epoch(r["time"]) >= int(step_up_time)]
    assert set(await apply_filters(page, since=since)) == set(later)
    assert 0 < len(later) < len(records)
    # ... and to it: "to" takes in the whole of its second.
    earlier = [r["request_id"] for r in records if _epoch(r["time"]) < int(step_up_time) + 1]
    assert set(await apply_filters(page, until=since)) == set(earlier)
    assert step_up["request_id"] in earlier and len(earlier) < len(records)
    await apply_filters(page, user="bob")
    await save_screenshot(page, "dashboard-2-filtered")

    # A click opens the record: rule path, reasons, and the explain view.
    bob_denied = next(r for r in records if r["user"] == "bob" and r["decision"] == "deny")
    await page.click(f"#decisions tbody tr[data-request-id='{bob_denied['request_id']}']")
    await poll(page, "!document.getElementById('detail').hidden")
    field = "document.querySelector('#d-{} dd[data-field=\"{}\"]').textContent"
    assert await page.evaluate(field.format("fields", "reasons")) == bob_denied["reason"].replace(",", ", ")
    assert await page.evaluate(field.format("fields", "rule")) == (bob_denied["rule"] or "—")
    assert await page.evaluate(field.format("explain", "decision")) == "deny"
    assert await page.evaluate(field.format("explain", "identity")) == "as-recorded"
    assert "groups-unauthorized" in await page.evaluate(field.format("explain", "reasons"))
    assert await page.evaluate(field.format("explain", "same as recorded")) == "yes"
    await save_screenshot(page, "dashboard-3-record")
    await page.click("#d-close")
    await apply_filters(page, decision="step_up")
    await page.click(f"#decisions tbody tr[data-request-id='{step_up['request_id']}']")
    await poll(page, "!document.getElementById('detail').hidden")
    assert await page.evaluate(field.format("fields", "rule")) == "routes[app].step_up"
    assert await page.evaluate(field.format("explain", "rule")) == "routes[app].step_up"

    # Live: new requests reach the open page by server-sent events, without a reload.
    allowed_before = by_outcome["allow"]
    async with aiohttp.ClientSession() as client:
        for index in range(2):
            async with client.get(f"{gateway.url}/public/live{index}", headers=API) as r:
                assert r.status == 200
    assert await poll(page, f"Number(document.querySelector('#total-allow .n').textContent) === {allowed_before + 2}")
    sums = await page.evaluate("window.dashboard.charts.outcomes.data[1].reduce((x, y) => x + y, 0)")
    assert sums == allowed_before + 2

    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not problems, problems

    # Never on the public listener: there /dashboard is just a path of the app route.
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/dashboard", headers=API) as r:
            assert r.status == 401 and "decisions" not in await r.text()


def _epoch(text: str) -> float:
    from authgate.dashboard.lines import parse_time

    return parse_time(text)


async def test_the_dashboard_behind_the_gateways_own_login_for_a_group(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    """docs/observability.md's recipe: a route in front of the admin listener's
    /dashboard, with a group policy — the gateway's own login protects it."""
    admin = free_port()
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = dashboard_config(oidc_provider, upstream, tmp_path / "k.pem", admin)
    config["routes"].insert(0, {
        "id": "dashboard", "match": {"host": "127.0.0.1", "path_prefix": "/dashboard"},
        "upstream": f"http://127.0.0.1:{admin}",
        "policy": {"allow": [{"groups": ["admins"]}]},
    })
    gateway = gateway_factory(config)
    wait_for_port("127.0.0.1", admin, timeout=15.0, process=gateway.process)
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/dashboard/api/summary", headers=API) as r:
            assert r.status == 401  # not signed in
    for user, status in (("bob", 403), ("alice", 200)):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            await sign_in(client, gateway, "/dashboard", user)
            async with client.get(f"{gateway.url}/dashboard/api/summary", headers=API) as r:
                assert r.status == status, user
                if status == 200:
                    body = await r.json()
                    assert body["summary"]["totals"]["deny"] >= 1  # bob's refusal
            if status == 200:  # the live stream passes through the proxy, unbuffered
                async with client.get(f"{gateway.url}/dashboard/events") as r:
                    assert r.headers["Content-Type"].startswith("text/event-stream")
                    async with asyncio.timeout(10):
                        while b"event: tick" not in await r.content.readline():
                            pass
