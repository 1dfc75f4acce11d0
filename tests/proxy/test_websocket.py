"""WebSocket upgrade proxied both ways, subprotocol and close code passed on.

A browser sends `Origin` on every WebSocket handshake and the gateway requires it
to be the route's own by default (tests/hardening/test_websockets.py): these send
`http://echo.test`, as a page on the route would.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from tests.testbed.gateway import Gateway


async def test_websocket_relays_both_ways(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway()
    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(
            f"{gateway.url}/__ws",
            headers={"Host": "echo.test"},
            protocols=("echo",),
            origin="http://echo.test",
        ) as ws:
            assert ws.protocol == "echo"
            await ws.send_str("hello")
            assert (await ws.receive_str(timeout=5)) == "hello"
            await ws.send_bytes(b"\x00\x01" * 1000)
            assert (await ws.receive_bytes(timeout=5)) == b"\x00\x01" * 1000
            await ws.send_str("bye")
            closing = await ws.receive(timeout=5)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4001
    record = gateway.decisions(1)[0]
    assert (record["decision"], record["status"], record["path"]) == ("allow", 101, "/__ws")


async def test_websocket_to_dead_upstream_is_502(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway(upstream="http://127.0.0.1:9")  # discard port: nothing listens
    async with aiohttp.ClientSession() as client:
        try:
            await client.ws_connect(
                f"{gateway.url}/__ws", headers={"Host": "echo.test"}, origin="http://echo.test"
            )
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 502
        else:
            raise AssertionError("handshake should have failed")
