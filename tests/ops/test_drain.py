"""Graceful drain of a real gateway on SIGTERM: under load, with a WebSocket, bounded.

Each request in the load test opens its own connection, so "accepted" has one
meaning: the TCP connect succeeded. Every such request must get a complete response.
A connect refused after the listener closed is not a lost request — the client knows
nothing was sent and can retry elsewhere — and is counted apart.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.ops.conftest import route
from tests.testbed.gateway import Gateway

REQUESTS = 200
TASKS = 8
SPREAD = 2.0  # seconds over which the requests are sent


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok", "refused" or "lost"
    status: int = 0
    request_id: str = ""
    detail: str = ""


async def one_request(port: int, path: str) -> Outcome:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return Outcome("refused")
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
        }
        await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 30)
        return Outcome("ok", int(lines[0].split()[1]), headers["x-request-id"])
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
        return Outcome("lost", detail=repr(error))
    finally:
        writer.close()


async def client_task(port: int, count: int, rng: random.Random) -> list[Outcome]:
    """`count` requests spread over SPREAD seconds, each on its own connection."""
    started: list[asyncio.Task[Outcome]] = []
    for _ in range(count):
        path = "/__slow?seconds=0.8" if rng.random() < 0.25 else f"/fast/{rng.randrange(10**6)}"
        started.append(asyncio.create_task(one_request(port, path)))
        await asyncio.sleep(SPREAD / count)
    return list(await asyncio.gather(*started))


async def test_sigterm_under_load_loses_no_accepted_request(
    ops_gateway: Callable[..., Gateway],
) -> None:
    gateway = ops_gateway(server={"shutdown_timeout": "10s"})
    rng = random.Random(7)
    load = [
        asyncio.create_task(client_task(gateway.port, REQUESTS // TASKS, rng)) for _ in range(TASKS)
    ]
    await asyncio.sleep(SPREAD / 2)
    gateway.signal(signal.SIGTERM)
    outcomes = [o for batch in await asyncio.gather(*load) for o in batch]
    exit_code = await asyncio.to_thread(gateway.wait, 30)
    kinds = Counter(o.kind for o in outcomes)
    assert kinds["lost"] == 0, [o.detail for o in outcomes if o.kind == "lost"]
    assert kinds["ok"] + kinds["refused"] == REQUESTS
    assert kinds["ok"] >= REQUESTS // 3 and kinds["refused"] > 0  # SIGTERM came mid-run
    assert {o.status for o in outcomes if o.kind == "ok"} == {200}
    assert exit_code == 0
    records = gateway.decisions(kinds["ok"])
    assert sorted(r["request_id"] for r in records) == sorted(
        o.request_id for o in outcomes if o.kind == "ok"
    )
    assert "draining: listeners closed" in gateway.stderr()


async def test_websocket_open_at_sigterm_is_closed_with_1001(
    ops_gateway: Callable[..., Gateway],
) -> None:
    upstream_codes: asyncio.Queue[int | None] = asyncio.Queue()

    async def echo_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        upstream_codes.put_nowait(ws.close_code)
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo_ws)
    upstream = TestServer(app, host="127.0.0.1")
    await upstream.start_server()
    try:
        gateway = ops_gateway(
            routes=[route("echo", "echo.test", str(upstream.make_url("/")).rstrip("/"))]
        )
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(
                f"{gateway.url}/ws", headers={"Host": "echo.test"}, origin="http://echo.test"
            ) as ws,
        ):
            await ws.send_str("hello")
            assert await ws.receive_str(timeout=5) == "hello"
            gateway.signal(signal.SIGTERM)
            message = await ws.receive(timeout=10)
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == aiohttp.WSCloseCode.GOING_AWAY
        assert await asyncio.wait_for(upstream_codes.get(), 10) == aiohttp.WSCloseCode.GOING_AWAY
        assert await asyncio.to_thread(gateway.wait, 20) == 0
    finally:
        await upstream.close()
    [record] = gateway.decisions(1)
    assert (record["path"], record["status"]) == ("/ws", 101)


async def test_drain_is_bounded_by_shutdown_timeout(
    ops_gateway: Callable[..., Gateway],
) -> None:
    gateway = ops_gateway(server={"shutdown_timeout": "1s"})
    slow = asyncio.create_task(one_request(gateway.port, "/__slow?seconds=30"))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    gateway.signal(signal.SIGTERM)
    assert await asyncio.to_thread(gateway.wait, 20) == 0
    assert time.monotonic() - started < 6  # 1s for requests, 1s for the log, slack
    assert (await slow).kind == "lost"  # cut off at the deadline, as configured
    [record] = gateway.decisions(1)
    assert record["path"] == "/__slow" and record["status"] == 499
    # The drain's log counts the request in flight, on whichever data plane served it.
    assert "1 connections open" in gateway.stderr()
