"""A counting upstream for the WebSocket tests: what reached it, and how it ended.

`counting_upstream` (function scope) serves
  * /__ws               -> WebSocket echo (text and binary), no message size limit
  * /__big?bytes=N      -> a WebSocket that first sends one binary message of N bytes
  * /__drop             -> a WebSocket whose TCP connection is cut at the first message
  * /__hang             -> a handshake answered only after 30 s
  * any other path      -> the echo upstream's JSON report (`tests/testbed/echo.py`)
`CountingUpstream.hits` lists the path of every request that reached it (WebSocket
handshakes included), so a test can say the upstream was never contacted;
`close_code()` waits for the next upstream WebSocket to end and gives its close code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from tests.testbed.echo import echo

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class CountingUpstream:
    server: TestServer | None = None
    hits: list[str] = field(default_factory=list)
    closes: asyncio.Queue[int | None] = field(default_factory=asyncio.Queue)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/")).rstrip("/")

    async def close_code(self, timeout: float = 6.0) -> int | None:
        return await asyncio.wait_for(self.closes.get(), timeout)

    def app(self) -> web.Application:
        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.hits.append(request.path)
            return await handler(request)

        app = web.Application(middlewares=[count])
        app.router.add_get("/__ws", self._echo_ws)
        app.router.add_get("/__big", self._big_ws)
        app.router.add_get("/__drop", self._drop_ws)
        app.router.add_get("/__hang", self._hang)
        app.router.add_route("*", "/{tail:.*}", echo)
        return app

    async def _echo_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, first=None)

    async def _big_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, first=b"\x5a" * int(request.query["bytes"]))

    async def _drop_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        assert request.transport is not None
        request.transport.abort()  # no close frame: the gateway sees 1006
        return ws

    async def _hang(self, request: web.Request) -> web.WebSocketResponse:
        await asyncio.sleep(30)
        return await self._echo_ws(request)

    async def _serve(self, request: web.Request, first: bytes | None) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, protocols=("chat",))
        await ws.prepare(request)
        if first is not None:
            await ws.send_bytes(first)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        self.closes.put_nowait(ws.close_code)
        return ws


@pytest.fixture
async def counting_upstream() -> AsyncIterator[CountingUpstream]:
    upstream = CountingUpstream()
    upstream.server = TestServer(upstream.app(), host="127.0.0.1")
    await upstream.server.start_server()
    yield upstream
    await upstream.server.close()
