"""A real `authgate serve` (two workers) writes a chained log; the CLI verifies and reports it.

The traffic is made by the test against the real OpenID Provider: alice (admins) is
allowed three times, bob (contractors) denied twice, two anonymous requests hit a
public path. `authgate report` must count exactly that; `authgate audit verify` must
pass on the log as written and name the line of a deletion.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider
from tests.testbed.redis import RedisServer

JSON = {"Accept": "application/json"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "authgate", *args], capture_output=True,
                          text=True, timeout=60)


async def _as(gateway: Gateway, user: str, requests: int) -> list[int]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        callback = await login_at_provider(client, f"{gateway.url}/.authgate/start?rd=/",
                                           user, f"{user}-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302
        statuses = []
        for n in range(requests):
            async with client.get(f"{gateway.url}/app/{n}", headers=JSON,
                                  allow_redirects=False) as r:
                statuses.append(r.status)
        return statuses


async def test_a_chained_log_from_real_traffic_verifies_and_reports_what_was_sent(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    config: dict[str, Any] = login_config(
        oidc_provider, str(echo_upstream.make_url("/")).rstrip("/"), tmp_path / "assertion.pem",
        route={"policy": {"allow": [{"groups": ["admins"]}]}},
        store={"backend": "redis", "url": redis_server.url},  # two workers share sessions
    )
    config["server"] = {"workers": 2}
    config["decision_log"] = {"sinks": [{"file": str(log), "chain": {"checkpoint_every": "1s"}}]}
    gateway = gateway_factory(config)

    assert await _as(gateway, "alice", 3) == [200, 200, 200]
    assert await _as(gateway, "bob", 2) == [403, 403]
    async with aiohttp.ClientSession() as client:
        for n in range(2):
            async with client.get(f"{gateway.url}/public/{n}") as r:
                assert r.status == 200
    gateway.signal(signal.SIGTERM)
    assert gateway.wait() == 0  # a drained stop writes each worker's final checkpoint

    verified = _cli("audit", "verify", str(log), "-c", str(gateway.config_path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: ")
    streams = {json.loads(line)["stream"] for line in log.read_text().splitlines()}
    assert len(streams) >= 2  # one chain per worker (plus the supervisor's, if it logs)

    report = _cli("report", "--log", str(log), "--format", "json")
    assert report.returncode == 0, report.stdout
    rows = {(row["user"], row["route"]): row for row in json.loads(report.stdout)["rows"]}
    alice = next(row for (user, route), row in rows.items() if "alice" in user and route == "app")
    bob = next(row for (user, route), row in rows.items() if "bob" in user and route == "app")
    assert (alice["allowed"], alice["denied"], alice["sign_ins"]) == (3, 0, 1)
    assert (bob["allowed"], bob["denied"], bob["sign_ins"]) == (0, 2, 1)
    assert bob["denials_by_reason"] == {"policy-no-match,groups-unauthorized": 2}
    anonymous = rows[("-", "app")]  # nobody signed in: the public path and the login starts
    assert (anonymous["allowed"], anonymous["login_prompts"]) == (2, 2)

    only_bob = _cli("report", "--log", str(log), "--format", "csv", "--user", bob["user"])
    [row] = list(csv.DictReader(io.StringIO(only_bob.stdout)))
    assert (row["route"], row["denied"], row["denials_by_reason"]) == ("app", "2", "policy-no-match,groups-unauthorized=2")

    page = tmp_path / "report.html"
    assert _cli("report", "--log", str(log), "--format", "html", "-o", str(page)).returncode == 0
    text = page.read_text()
    assert "<svg" in text and "<script" not in text and "http" not in text.split("<body>")[1]
    assert "policy-no-match,groups-unauthorized" in text
    assert f"<td>{bob['user']}</td><td>app</td>" in text

    # Delete one of alice's records: the verifier names the line after the gap.
    lines = log.read_text().splitlines()
    victim = next(i for i, line in enumerate(lines) if '"path":"/app/1"' in line)
    stream = json.loads(lines[victim])["stream"]
    after = next(i for i in range(victim + 1, len(lines)) if json.loads(lines[i])["stream"] == stream)
    del lines[victim]
    log.write_text("".join(line + "\n" for line in lines))
    broken = _cli("audit", "verify", str(log), "-c", str(gateway.config_path))
    assert broken.returncode == 1
    assert f"{log}:{after}: " in broken.stdout and "deleted" in broken.stdout
