"""`Reloader` in process: what a reload swaps, what it keeps, and when it closes.

The reuse rules themselves are `tests/test_generation.py`'s; these tests see them
through the app: one generation key, swapped whole, and what it dropped closed after
its last request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from authgate.config.snapshot import build_snapshot
from authgate.ops.inflight import IN_FLIGHT
from authgate.server.app import RELOADER, build_app
from authgate.server.state import GENERATION
from tests.geo.conftest import CITY_RECORDS, LONDON_IP, build_mmdb

AppClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


def write(path: Path, config: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    return {
        "secrets": {
            "cookie_secret": ["test-cookie-secret-0123456789abcdefghijklmnop"],
            "assertion_keys": str(tmp_path / "keys.pem"),
        },
        "providers": [
            {
                "id": "corp",
                "issuer": "http://127.0.0.1:9/corp",
                "client_id": "a",
                "client_secret": "s",
            },
            {
                "id": "shop",
                "issuer": "http://127.0.0.1:9/shop",
                "client_id": "b",
                "client_secret": "s",
            },
        ],
        "decision_log": {"sinks": [{"file": str(tmp_path / "decisions.jsonl")}]},
        "routes": [
            {
                "id": "a",
                "match": {"host": "a.test"},
                "upstream": "http://127.0.0.1:9",
                "public": ["/**"],
            },
        ],
    }


@pytest.fixture
async def started(
    tmp_path: Path, config: dict[str, Any], aiohttp_client: AppClient
) -> tuple[web.Application, Path]:
    path = tmp_path / "authgate.yaml"
    write(path, config)
    app = build_app(build_snapshot(path))
    await aiohttp_client(app)
    return app, path


async def test_routes_change_keeps_store_and_unchanged_providers(
    started: tuple[web.Application, Path], config: dict[str, Any]
) -> None:
    app, path = started
    first = app[GENERATION]
    before = first.auth
    config["routes"].append({**config["routes"][0], "id": "b", "match": {"host": "b.test"}})
    config["providers"][1]["client_id"] = "changed"
    write(path, config)
    assert await app[RELOADER].reload("test")
    second = app[GENERATION]
    after = second.auth
    assert second.number == first.number + 1 and second.snapshot.routes.by_id("b")
    assert after is not before
    assert after.store is before.store and after.refresher is before.refresher
    assert after.oidc["corp"] is before.oidc["corp"]  # keeps its discovery and JWKS
    assert after.oidc["shop"] is not before.oidc["shop"]
    assert set(after.templates) == {"a", "b"}


async def test_a_server_change_keeps_every_resource(
    started: tuple[web.Application, Path], config: dict[str, Any]
) -> None:
    app, path = started
    before = app[GENERATION]
    config["server"] = {"trusted_proxies": ["10.0.0.0/8"]}
    write(path, config)
    assert await app[RELOADER].reload("test")
    after = app[GENERATION]
    assert after.server.trusted.contains("10.1.2.3") and not before.server.trusted.contains("10.1.2.3")
    assert (after.auth.store, after.auth.guards, after.auth.oidc) == (
        before.auth.store, before.auth.guards, before.auth.oidc,
    )  # fmt: skip


async def test_a_replaced_store_is_closed_after_its_last_request(
    started: tuple[web.Application, Path],
    config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, path = started
    old_store = app[GENERATION].auth.store
    closed = asyncio.Event()

    async def close() -> None:
        closed.set()

    monkeypatch.setattr(old_store, "close", close)
    inflight = app[IN_FLIGHT]
    generation = app[GENERATION].number
    inflight.enter(generation)  # a request that started on the old config
    config["sessions"] = {"idle_timeout": "1h"}
    write(path, config)
    assert await app[RELOADER].reload("test")
    assert app[GENERATION].auth.store is not old_store
    await asyncio.sleep(0.05)
    assert not closed.is_set()  # still in use by that request
    inflight.leave(generation)
    await asyncio.wait_for(closed.wait(), 2)


async def test_a_rejected_reload_changes_nothing(
    started: tuple[web.Application, Path], config: dict[str, Any]
) -> None:
    app, path = started
    before = app[GENERATION]
    config["routes"][0]["upstream"] = "nope"
    write(path, config)
    assert not await app[RELOADER].reload("test")
    assert app[GENERATION] is before


async def test_replaced_geoip_readers_serve_the_old_requests_then_close(
    tmp_path: Path,
    config: dict[str, Any],
    aiohttp_client: AppClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config["geoip"] = {"city": str(build_mmdb(tmp_path / "a.mmdb", CITY_RECORDS))}
    path = tmp_path / "authgate.yaml"
    write(path, config)
    app = build_app(build_snapshot(path))
    await aiohttp_client(app)
    first = app[GENERATION]
    old_geo = first.auth.geo
    assert old_geo is not None
    closed = asyncio.Event()
    close = old_geo.close
    monkeypatch.setattr(old_geo, "close", lambda: (close(), closed.set()))
    app[IN_FLIGHT].enter(first.number)  # a request that started on the old config
    moved = {**CITY_RECORDS, "51.0.0.0/8": {"country": {"iso_code": "IE"}}}
    config["geoip"] = {"city": str(build_mmdb(tmp_path / "b.mmdb", moved))}
    write(path, config)
    assert await app[RELOADER].reload("test")
    new_geo = app[GENERATION].auth.geo
    assert new_geo is not None and new_geo.lookup(LONDON_IP).country == "IE"
    await asyncio.sleep(0.05)
    assert not closed.is_set() and old_geo.lookup(LONDON_IP).country == "GB"
    app[IN_FLIGHT].leave(first.number)
    await asyncio.wait_for(closed.wait(), 2)
