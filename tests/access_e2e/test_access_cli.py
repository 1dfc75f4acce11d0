"""`authgate grant|revoke|grants` against a running gateway's admin listener."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.access_e2e.conftest import AccessGateway, signed_in
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["native", "aiohttp"])
def gateway(access_gateway: AccessGateway, request: pytest.FixtureRequest) -> Gateway:
    """Both front ends: the entitlement route is decided on the request path of each."""

    def with_admin(built: dict[str, Any]) -> None:
        built["server"] = {"admin_listen": f"127.0.0.1:{free_port()}", "data_plane": request.param}
        built["entitlements"]["db-admin"]["max_duration"] = "1h"

    return access_gateway(with_admin)


@pytest_asyncio.fixture
async def bob(gateway: Gateway) -> AsyncIterator[aiohttp.ClientSession]:
    async with signed_in(gateway, "bob", "bob-password") as http:
        yield http


def cli(gateway: Gateway, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "authgate", *args, "-c", str(gateway.config_path), "--operator", "root"]
        if args[0] != "grants" else [sys.executable, "-m", "authgate", *args, "-c", str(gateway.config_path)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


async def status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url, allow_redirects=False) as answer:
        return answer.status


async def test_grant_list_and_revoke_from_the_shell(gateway: Gateway, bob: aiohttp.ClientSession) -> None:
    db = f"{gateway.url}/db/console"
    async with bob.get(f"{gateway.url}/.authgate/userinfo") as info:
        sub = (await info.json())["sub"]
    assert await status(bob, db) == 403
    code, out = cli(gateway, "grant", "--subject", sub, "--user", "bob", "--entitlement", "db-admin",
                    "--duration", "10m", "--reason", "CHG-7: schema migration")  # fmt: skip
    assert code == 0, out
    grant_id = out.split()[0]
    assert grant_id.startswith("g-") and ": active until " in out
    assert await status(bob, db) == 200

    code, out = cli(gateway, "grants")
    assert code == 0 and grant_id in out and "CHG-7: schema migration" in out and "active" in out
    code, out = cli(gateway, "grants", "--json")
    listed: list[dict[str, Any]] = json.loads(out)["grants"]
    assert [(g["id"], g["decided_by"], g["requested_by"]) for g in listed] == [(grant_id, "operator:root", "operator:root")]

    code, out = cli(gateway, "revoke", grant_id, "--note", "done early")
    assert code == 0 and "revoked" in out
    assert await status(bob, db) == 403  # at once, on this process
    code, out = cli(gateway, "revoke", grant_id)
    assert code == 1 and "grant-already-decided" in out
    events = [(r["reason"], r["user"]) for r in gateway.decisions(0) if r.get("grant") and not r["method"]]
    assert events == [("grant-approved", "operator:root"), ("grant-activated", "operator:root"), ("grant-revoked", "operator:root")]


async def test_the_api_needs_the_token(gateway: Gateway) -> None:
    admin = yaml_admin(gateway)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{admin}/access/grants") as answer:
            assert answer.status == 401
        async with http.post(f"http://{admin}/access/grants", json={"operator": "x"},
                             headers={"Authorization": "Bearer wrong"}) as answer:  # fmt: skip
            assert answer.status == 401
    token = (gateway.config_path.parent / "state" / "access-admin.token").read_text().strip()
    assert (gateway.config_path.parent / "state" / "access-admin.token").stat().st_mode & 0o077 == 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.post(f"http://{admin}/access/grants", json={"operator": "x", "approve": "g-nope"}) as answer:
            assert answer.status == 404
        async with http.post(f"http://{admin}/access/grants", data=b"[") as answer:
            assert answer.status == 400


def yaml_admin(gateway: Gateway) -> str:
    import yaml

    return str(yaml.safe_load(gateway.config_path.read_text())["server"]["admin_listen"])
