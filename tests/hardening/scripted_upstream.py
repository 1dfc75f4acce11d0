"""Raw-socket upstreams for the hardening tests: exact bytes out, every byte in recorded.

`await scripted_upstream(answer)` (the fixture) starts a `ScriptedUpstream` that listens on a free loopback port; for each connection it
reads the request head, records it, writes `answer` (bytes, exactly) and then closes
the connection (`close=True`) or keeps it open until the test ends. `received` holds
every byte that reached it, so a test can prove that the upstream saw nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest


class ScriptedUpstream:
    def __init__(self, answer: bytes, *, close: bool = True) -> None:
        self.answer = answer
        self.close = close
        self.received: list[bytes] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        self.received.append(head)
        writer.write(self.answer)
        await writer.drain()
        if self.close:
            writer.close()
        else:
            self._held.append(writer)


@pytest.fixture
async def scripted_upstream() -> AsyncIterator[Callable[..., Awaitable[ScriptedUpstream]]]:
    """`upstream = await scripted_upstream(answer, close=...)`; stopped at the end."""
    started: list[ScriptedUpstream] = []

    async def start(answer: bytes, *, close: bool = True) -> ScriptedUpstream:
        upstream = ScriptedUpstream(answer, close=close)
        await upstream.start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.stop()
