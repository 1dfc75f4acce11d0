"""Fixtures for the operations tests: a gateway with an admin listener, config edits."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port, wait_for_port


def route(route_id: str, host: str, upstream: str, **extra: Any) -> dict[str, Any]:
    """A public route (no login) to `upstream`."""
    return {
        "id": route_id,
        "match": {"host": host},
        "upstream": upstream,
        "public": ["/**"],
        **extra,
    }


def admin_url(gateway: Gateway) -> str:
    config = yaml.safe_load(gateway.config_path.read_text())
    return f"http://{config['server']['admin_listen']}"


def edit_config(gateway: Gateway, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the gateway's file with `change` applied (atomically, as tools do)."""
    config = yaml.safe_load(gateway.config_path.read_text())
    change(config)
    write_config(gateway.config_path, yaml.safe_dump(config, sort_keys=False))


def write_config(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


@pytest.fixture
def upstream_url(echo_upstream: TestServer) -> str:
    return str(echo_upstream.make_url("/")).rstrip("/")


@pytest.fixture
def ops_gateway(
    upstream_url: str, gateway_factory: Callable[..., Gateway]
) -> Callable[..., Gateway]:
    """`ops_gateway(server=..., **top)`: one public route `echo.test`, admin on a free port."""

    def make(server: dict[str, Any] | None = None, **top: Any) -> Gateway:
        admin_port = free_port()
        config: dict[str, Any] = {
            "server": {"admin_listen": f"127.0.0.1:{admin_port}", **(server or {})},
            "routes": [route("echo", "echo.test", upstream_url)],
            **top,
        }
        gateway = gateway_factory(config)
        wait_for_port("127.0.0.1", admin_port, timeout=15.0, process=gateway.process)
        return gateway

    return make
