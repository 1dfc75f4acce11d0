"""`server.workers: 2` on a real gateway: one port, restarts, drain, aggregated metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import psutil
import pytest
import yaml

from tests.ops.conftest import admin_url
from tests.ops.test_admin import scrape
from tests.ops.test_reload import wait_for_log
from tests.testbed.gateway import Gateway
from tests.testbed.ports import port_is_open
from tests.testbed.redis import RedisServer

COOKIE_SECRET = "test-cookie-secret-0123456789abcdefghijklmnop"


@pytest.fixture
def workers_gateway(
    ops_gateway: Callable[..., Gateway],
    redis_server_factory: Callable[..., RedisServer],
    tmp_path: Path,
) -> Gateway:
    redis = redis_server_factory()
    gateway = ops_gateway(
        server={"workers": 2, "shutdown_timeout": "5s"},
        store={"backend": "redis", "url": redis.url},
        secrets={"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(tmp_path / "k.pem")},
    )
    wait_for_workers(gateway, 2)
    return gateway


def workers(gateway: Gateway) -> set[int]:
    return {child.pid for child in psutil.Process(gateway.process.pid).children()}


def wait_for_workers(
    gateway: Gateway, count: int, exclude: frozenset[int] = frozenset(), timeout: float = 20.0
) -> set[int]:
    deadline = time.monotonic() + timeout
    while True:
        pids = workers(gateway) - exclude
        if len(pids) >= count and "2 workers ready" in gateway.stderr():
            return pids
        assert time.monotonic() < deadline, f"workers: {pids}\n{gateway.stderr()}"
        time.sleep(0.1)


async def statuses(gateway: Gateway, count: int) -> list[int]:
    # A new connection each time, so the kernel spreads them over both workers.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        got = []
        for _ in range(count):
            async with client.get(f"{gateway.url}/x", headers={"Host": "echo.test"}) as r:
                await r.read()
                got.append(r.status)
        return got


async def test_two_workers_serve_one_port_and_a_killed_one_is_replaced(
    workers_gateway: Gateway,
) -> None:
    gateway = workers_gateway
    first = workers(gateway)
    assert len(first) == 2
    assert await statuses(gateway, 20) == [200] * 20
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    assert await statuses(gateway, 20) == [200] * 20  # the other worker answers meanwhile
    log = await wait_for_log(gateway, f"(pid {victim}) was killed by SIGKILL; restarting")
    assert "restarting it in" in log
    replaced = await asyncio.to_thread(wait_for_workers, gateway, 2, frozenset({victim}))
    assert victim not in replaced and len(replaced - first) == 1
    await asyncio.sleep(0.5)  # the new worker starts accepting
    assert await statuses(gateway, 20) == [200] * 20
    seen = await scrape(gateway)
    assert seen[("authgate_worker_restarts_total", ())] == 1


async def test_metrics_add_up_every_worker(workers_gateway: Gateway) -> None:
    gateway = workers_gateway
    gateway.signal(signal.SIGHUP)  # the supervisor passes it on: each worker reloads once
    deadline = time.monotonic() + 10
    while gateway.stderr().count("config reload (SIGHUP) applied") < 2:
        assert time.monotonic() < deadline, gateway.stderr()
        await asyncio.sleep(0.1)
    for _ in range(5):  # whichever worker answers the scrape, the sum is the same
        seen = await scrape(gateway)
        assert seen[("authgate_config_reloads_total", (("result", "applied"),))] == 2


async def test_sigterm_to_the_supervisor_drains_every_worker(workers_gateway: Gateway) -> None:
    gateway = workers_gateway
    pids = workers(gateway)
    gateway.signal(signal.SIGTERM)
    assert await asyncio.to_thread(gateway.wait, 30) == 0
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )
    assert gateway.stderr().count("authgate stopped") == 2
    assert not port_is_open("127.0.0.1", gateway.port)


async def test_workers_stop_when_the_supervisor_is_killed(workers_gateway: Gateway) -> None:
    gateway = workers_gateway
    pids = workers(gateway)
    gateway.signal(signal.SIGKILL)
    await asyncio.to_thread(gateway.wait, 10)
    deadline = time.monotonic() + 15
    while any(psutil.pid_exists(pid) for pid in pids):
        assert time.monotonic() < deadline, "orphaned workers still running"
        await asyncio.sleep(0.1)
    assert not port_is_open("127.0.0.1", gateway.port)
    assert admin_url(gateway)


def test_a_worker_that_cannot_start_stops_the_gateway(
    redis_server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: nobody may share it
    taken.listen()
    try:
        config = {
            "server": {"workers": 2, "listen": f"127.0.0.1:{taken.getsockname()[1]}"},
            "store": {"backend": "redis", "url": redis_server_factory().url},
            "secrets": {
                "cookie_secret": [COOKIE_SECRET],
                "assertion_keys": str(tmp_path / "k.pem"),
            },
            "routes": [{"id": "a", "match": {"host": "a.test"}, "upstream": "http://127.0.0.1:9"}],
        }
        path = tmp_path / "authgate.yaml"
        path.write_text(yaml.safe_dump(config))
        done = subprocess.run(
            [sys.executable, "-m", "authgate", "serve", "-c", str(path)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        taken.close()
    assert done.returncode == 1
    assert "cannot start: cannot listen on 127.0.0.1:" in done.stderr
    assert "during start-up; stopping" in done.stderr
