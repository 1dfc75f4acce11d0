"""Graceful drain on SIGTERM: nothing that was accepted is dropped.

Contract: `drain(runner, listeners, settle)` runs these steps, in this order:

1. `/readyz` starts answering 503 (`DrainState.draining`), so load balancers that
   still probe stop sending.
2. The listeners close (`Listener.close`): connections already in the kernel's
   accept queue are accepted and served; new connects are refused from here on. A
   refused connect is not a lost request — the client knows nothing was sent and
   may retry elsewhere; a connection that was accepted and then dropped would be.
3. `settle` seconds pass, so that requests on connections accepted just now are read
   and in progress before the next step closes idle connections (aiohttp closes a
   connection that has not delivered its request yet as idle).
4. `runner.cleanup()`: idle keep-alive connections are closed (a client must expect
   that and retries idempotent requests, RFC 9112 §9.3.1); every live WebSocket
   gets a close frame with 1001 "going away" (the `on_shutdown` hook below);
   requests in progress get up to `server.shutdown_timeout` to finish and are
   cancelled after that; then the cleanup contexts run: the decision log writes
   every queued record and closes its sinks, the clients close.

`LiveWebSockets` is the registry the WebSocket relay adds each upgraded client
connection to; a WebSocket upgraded while draining is closed at once. Its `caps`
count the WebSockets open (or opening) per route, user and client IP
(`authgate.ratelimit.websocket_caps`); like the registry they outlive reloads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aiohttp import WSCloseCode, web

from authgate.ops.listeners import Listener
from authgate.ratelimit.websocket_caps import WebSocketCaps

log = logging.getLogger(__name__)

GOING_AWAY = WSCloseCode.GOING_AWAY
# Long enough for a request sent right after the handshake to arrive over a real
# network; short next to any shutdown budget.
SETTLE_SECONDS = 0.25


@runtime_checkable
class CountsConnections(Protocol):
    """A server whose connections are not (all) in aiohttp's `Server.connections`:
    the native data plane's (`dataplane.server`) are its own."""

    def open_connections(self) -> int: ...


@dataclass
class DrainState:
    draining: bool = False


class LiveWebSockets:
    """Client WebSocket connections open now, closed with 1001 on drain."""

    def __init__(self) -> None:
        self._open: set[web.WebSocketResponse] = set()
        self._closers: set[asyncio.Task[None]] = set()
        self.going_away = False
        self.caps = WebSocketCaps()

    def __len__(self) -> int:
        return len(self._open)

    @contextmanager
    def track(self, ws: web.WebSocketResponse) -> Iterator[None]:
        self._open.add(ws)
        if self.going_away:  # upgraded on a keep-alive connection while draining
            self._spawn_close(ws)
        try:
            yield
        finally:
            self._open.discard(ws)

    async def close_all(self) -> None:
        self.going_away = True
        for ws in list(self._open):
            self._spawn_close(ws)
        if self._closers:
            await asyncio.wait(set(self._closers))

    def _spawn_close(self, ws: web.WebSocketResponse) -> None:
        task = asyncio.create_task(_close(ws))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)


async def _close(ws: web.WebSocketResponse) -> None:
    try:
        await ws.close(code=GOING_AWAY, message=b"server shutting down")
    except Exception as error:  # the peer may be gone already; nothing left to do
        log.debug("websocket close on drain failed: %r", error)


DRAIN = web.AppKey("drain", DrainState)
LIVE_WEBSOCKETS = web.AppKey("live_websockets", LiveWebSockets)


async def close_websockets(app: web.Application) -> None:
    """`on_shutdown` hook: runs after the listeners closed, before in-flight waits."""
    await app[LIVE_WEBSOCKETS].close_all()


async def drain(
    runner: web.AppRunner, listeners: Sequence[Listener], *, settle: float = SETTLE_SECONDS
) -> None:
    runner.app[DRAIN].draining = True
    handed_over = 0
    for listener in listeners:
        handed_over += await listener.close(runner)
    server = runner.server
    busy = 0
    if isinstance(server, CountsConnections):
        busy = server.open_connections()
    elif server is not None:
        busy = len(server.connections)
    log.info(
        "draining: listeners closed (%d queued connections taken over), %d connections open",
        handed_over, busy,
    )
    await asyncio.sleep(settle)
    await runner.cleanup()
