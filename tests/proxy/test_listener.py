"""The listener: event loop choice, TLS termination, one decision record per request."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import trustme

from tests.testbed.gateway import Gateway


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
async def test_event_loop_is_selectable(
    echo_gateway: Callable[..., Gateway], event_loop: str
) -> None:
    gateway = echo_gateway(server={"event_loop": event_loop})
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/loop", headers={"Host": "echo.test"}) as response:
            assert response.status == 200


async def test_tls_listener_sets_https_proto(
    echo_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("echo.test", "127.0.0.1")
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    gateway = echo_gateway(server={"tls": {"cert": str(cert_path), "key": str(key_path)}})
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"https://127.0.0.1:{gateway.port}/secure",
            headers={"Host": "echo.test"},
            ssl=context,
        ) as response:
            echo = await response.json()
    forwarded_proto = [v for k, v in echo["headers"] if k.lower() == "x-forwarded-proto"]
    assert forwarded_proto == ["https"]


async def test_each_request_leaves_one_complete_record(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway(public=["/open/**"])
    async with aiohttp.ClientSession() as client:
        for path in ("/open/a", "/closed", "/open/b?x=1"):
            async with client.get(f"{gateway.url}{path}", headers={"Host": "echo.test"}) as r:
                await r.read()
                last_id = r.headers["X-Request-Id"]
    records = gateway.decisions(3)
    assert len(records) == 3
    assert [r["decision"] for r in records] == ["allow", "login", "allow"]
    assert [r["path"] for r in records] == ["/open/a", "/closed", "/open/b"]
    assert records[-1]["request_id"] == last_id
    first = records[0]
    assert set(first) >= {
        "time", "request_id", "route", "method", "host", "path", "client_ip",
        "decision", "reason", "rule", "status", "upstream_status", "durations",
    }
    assert (first["route"], first["method"], first["host"], first["client_ip"]) == (
        "echo", "GET", "echo.test", "127.0.0.1",
    )
    assert (first["status"], first["upstream_status"]) == (200, 200)
    assert first["durations"]["total_ms"] >= first["durations"]["upstream_ms"] > 0
    assert records[1]["upstream_status"] is None and records[1]["status"] == 401
