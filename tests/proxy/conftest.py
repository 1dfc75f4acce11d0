"""Shared helpers for proxy tests: a public route to the echo upstream, raw requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway


def public_route(upstream: str, **extra: Any) -> dict[str, Any]:
    route = {
        "id": "echo",
        "match": {"host": "echo.test"},
        "upstream": upstream,
        "public": ["/**"],
    }
    route.update(extra)
    return route


@pytest.fixture
def echo_gateway(
    echo_upstream: TestServer, gateway_factory: Callable[..., Gateway]
) -> Callable[..., Gateway]:
    """A gateway with one public route `echo.test` to the echo upstream."""

    def make(server: dict[str, Any] | None = None, **route: Any) -> Gateway:
        upstream = route.pop("upstream", str(echo_upstream.make_url("/")).rstrip("/"))
        config: dict[str, Any] = {"routes": [public_route(upstream, **route)]}
        if server:
            config["server"] = server
        return gateway_factory(config)

    return make
