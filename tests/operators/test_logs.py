"""Operational logs on a real gateway: JSON lines with the request id, text, the level, reload.

The request that logs is an upstream failure: the gateway warns "upstream ... unreachable"
while handling it, and the decision record names the same request id.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.ops.conftest import edit_config
from tests.ops.test_reload import wait_for_log
from tests.proxy.conftest import public_route
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port
from tests.testbed.redis import RedisServer

REQUIRED = ("time", "level", "logger", "message")
# Who warns about an unreachable upstream: the native data plane's relay (the default
# `server.data_plane`; aiohttp's front end logs it as authgate.proxy.forward).
UPSTREAM_LOGGER = "authgate.dataplane.relay"
COOKIE_SECRET = "test-cookie-secret-0123456789abcdefghijklmnop"


def dead_route() -> dict[str, Any]:
    return public_route(f"http://127.0.0.1:{free_port('127.0.0.1')}")  # nothing listens


async def failing_request(gateway: Gateway) -> str:
    """One request the gateway logs a warning for (502); its request id."""
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/x", headers={"Host": "echo.test"}) as response:
            assert response.status == 502
            return response.headers["X-Request-Id"]


def json_lines(gateway: Gateway) -> list[dict[str, Any]]:
    """Every line of the gateway's stderr, each of which must be one JSON object."""
    lines = [line for line in gateway.stderr().splitlines() if line.strip()]
    assert lines
    return [json.loads(line) for line in lines]


async def lines_of(gateway: Gateway, request_id: str, timeout: float = 6.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in json_lines(gateway) if line.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("fmt", [None, "auto", "json"], ids=["default", "auto", "json"])
async def test_json_lines_when_stderr_is_not_a_terminal(
    gateway_factory: Callable[..., Gateway], fmt: str | None
) -> None:
    log = {} if fmt is None else {"format": fmt}  # {}: the schema's default (auto)
    gateway = gateway_factory({"log": log, "routes": [dead_route()]})
    request_id = await failing_request(gateway)
    record = gateway.record(request_id)
    assert record["reason"] == "upstream-unreachable"
    logged = await lines_of(gateway, request_id)
    assert [line["level"] for line in logged] == ["WARNING"]
    (warning,) = logged
    assert warning["logger"] == UPSTREAM_LOGGER
    assert "unreachable" in warning["message"]
    assert warning["request_id"] == record["request_id"]
    for line in json_lines(gateway):
        assert all(isinstance(line.get(field), str) and line[field] for field in REQUIRED), line
        assert line["time"].endswith("+00:00") and "T" in line["time"]  # ISO 8601, UTC
        assert "pid" not in line  # one worker: the pid says nothing
    started = [line for line in json_lines(gateway) if "listening" in line["message"]]
    assert started and "request_id" not in started[0]  # outside any request


async def test_text_lines_name_the_request(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory({"log": {"format": "text"}, "routes": [dead_route()]})
    request_id = await failing_request(gateway)
    gateway.record(request_id)
    text = gateway.stderr()
    warning = next(line for line in text.splitlines() if "unreachable" in line)
    assert f" WARNING {UPSTREAM_LOGGER}: upstream " in warning
    assert warning.endswith(f" [request {request_id}]")
    for line in text.splitlines():
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)


@pytest.mark.parametrize(
    ("level", "shown"),
    [("debug", {"INFO", "WARNING"}), ("info", {"INFO", "WARNING"}),
     ("warning", {"WARNING"}), ("error", set())],
)
async def test_level_filters_lines(
    gateway_factory: Callable[..., Gateway], level: str, shown: set[str]
) -> None:
    gateway = gateway_factory({"log": {"format": "json", "level": level}, "routes": [dead_route()]})
    request_id = await failing_request(gateway)
    gateway.record(request_id)
    await asyncio.sleep(0.5)  # the warning, if any, is written before the record
    levels = {line["level"] for line in json_lines(gateway)} if gateway.stderr().strip() else set()
    assert levels - {"DEBUG"} == shown


async def test_a_reload_applies_a_new_level(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory({"log": {"format": "json", "level": "info"}, "routes": [dead_route()]})
    before = await failing_request(gateway)
    assert await lines_of(gateway, before)
    edit_config(gateway, lambda config: config["log"].update(level="error"))
    gateway.signal(signal.SIGHUP)
    await wait_for_log(gateway, "config reload (SIGHUP) applied")
    after = await failing_request(gateway)
    gateway.record(after)
    assert await lines_of(gateway, after, timeout=1.0) == []
    reload_line = next(line for line in json_lines(gateway) if "config reload" in line["message"])
    assert "changed ['log']" in reload_line["message"]


async def test_several_workers_give_their_pid(
    gateway_factory: Callable[..., Gateway],
    redis_server_factory: Callable[..., RedisServer],
    tmp_path: Path,
) -> None:
    redis = redis_server_factory()
    gateway = gateway_factory({
        "server": {"workers": 2, "shutdown_timeout": "5s"},
        "store": {"backend": "redis", "url": redis.url},
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(tmp_path / "k.pem")},
        "log": {"format": "json"},
        "routes": [dead_route()],
    })
    await wait_for_log(gateway, "2 workers ready")
    request_id = await failing_request(gateway)
    (warning,) = await lines_of(gateway, request_id)
    ready = next(line for line in json_lines(gateway) if "workers ready" in line["message"])
    workers = {int(pid) for pid in ready["message"].split("pids [")[1].rstrip("])").split(", ")}
    assert warning["pid"] in workers
    assert ready["pid"] == gateway.process.pid  # the supervisor's own lines
