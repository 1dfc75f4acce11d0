"""Tracing off costs nothing: no OpenTelemetry module is ever imported.

In a fresh interpreter (this test process has the SDK loaded by the other tracing
tests), the real application is built from a config and serves requests on both
front ends' modules — the aiohttp handler in process, and the data plane's modules
imported — and then `sys.modules` must hold no `opentelemetry` module beyond what
the dependencies load on their own (redis-py 8.1 imports OpenTelemetry's API and
metrics SDK whenever they are installed), nor `authgate.tracing.provider`/`request`
or `opentelemetry.sdk.trace`. The same
script with tracing enabled must load it, so the check can fail. The trace context
rule holds with tracing off too: a client's `traceparent` does not reach the
upstream, a trusted proxy's does, unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestServer

from tests.proxy.conftest import public_route

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

SCRIPT = """
import asyncio, json, sys
# redis-py (8.1 and later) imports OpenTelemetry's API and metrics SDK itself when they
# are installed (redis/observability): what it loads is the baseline, not ours.
import redis, redis.asyncio
def otel():
    return {name for name in sys.modules if name.split(".")[0] == "opentelemetry"}
before = otel()
from aiohttp.test_utils import TestClient, TestServer
import authgate.dataplane.server, authgate.dataplane.exchange, authgate.server.run
from authgate.config.snapshot import build_snapshot
from authgate.server.app import build_app

async def main():
    app = build_app(build_snapshot(sys.argv[1]))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        seen = []
        for _ in range(3):
            response = await client.get("/a", headers={"Host": "echo.test", "traceparent": sys.argv[2]})
            body = await response.json()
            seen.append([v for k, v in body["headers"] if k.lower() == "traceparent"])
    ours = [name for name in sys.modules if name.startswith(("authgate.tracing.", "opentelemetry.sdk.trace"))]
    print(json.dumps({"loaded": sorted(otel() - before), "ours": sorted(ours), "traceparent": seen}))

asyncio.run(main())
"""


async def run(tmp_path: Path, echo: TestServer, *, enabled: bool, trusted: bool) -> dict[str, list[str]]:
    config = {
        "server": {"trusted_proxies": ["127.0.0.0/8"] if trusted else []},
        "decision_log": {"sinks": [{"file": str(tmp_path / "decisions.jsonl")}]},
        "observability": {"tracing": {"enabled": enabled, "endpoint": "http://127.0.0.1:9/v1/traces"}},
        "routes": [public_route(str(echo.make_url("/")).rstrip("/"))],
    }
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # Not subprocess.run: the echo upstream answers on this test's event loop.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, str(path), PARENT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, list[str]] = json.loads(stdout.decode().splitlines()[-1])
    return result


@pytest.mark.parametrize("trusted", [False, True], ids=["client", "trusted-proxy"])
async def test_disabled_imports_nothing_of_opentelemetry(
    tmp_path: Path, echo_upstream: TestServer, trusted: bool
) -> None:
    result = await run(tmp_path, echo_upstream, enabled=False, trusted=trusted)
    assert (result["loaded"], result["ours"]) == ([], [])
    # Off, the gateway neither traces nor rewrites: a trusted proxy's context passes
    # as it came, a client's never reaches the upstream.
    assert result["traceparent"] == ([[PARENT]] * 3 if trusted else [[]] * 3)


async def test_enabled_imports_it_so_the_check_above_can_fail(
    tmp_path: Path, echo_upstream: TestServer
) -> None:
    result = await run(tmp_path, echo_upstream, enabled=True, trusted=False)
    assert "opentelemetry.sdk.trace" in result["loaded"]
    assert {"authgate.tracing.provider", "authgate.tracing.request"} <= set(result["ours"])
    assert all(len(sent) == 1 and sent[0] != PARENT for sent in result["traceparent"])
