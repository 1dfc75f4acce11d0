"""Fixtures of the continuous-evaluation tests: an upstream with a WebSocket echo
(`/ws`), a server-sent event stream (`/sse`, one event every 100 ms for a minute), and
"ok" on any other path."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType, web
from pytest_aiohttp import AiohttpServer


async def _ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            await ws.send_str(message.data)
    return ws


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for n in range(600):  # a minute of events, one every 100 ms
        await response.write(f"data: {n}\n\n".encode())
        await asyncio.sleep(0.1)
    return response


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@pytest.fixture
async def upstream(aiohttp_server: AiohttpServer) -> str:
    app = web.Application()
    app.router.add_get("/ws", _ws)
    app.router.add_get("/sse", _sse)
    app.router.add_get("/{tail:.*}", _ok)
    server = await aiohttp_server(app)
    return f"http://{server.host}:{server.port}"


