"""Requests in flight, by the config generation they started on.

Contract: `InFlight.counted(handler)` wraps the request handler; the wrapper counts
the request under the current generation, then awaits the handler. Awaiting a
coroutine runs it at once, up to its first suspension, so a handler that reads
`app[RUNTIME]` before its first `await` (as `server.handler.handle` does) reads the
snapshot of the generation it was counted under. A reload swaps the runtime and calls
`advance()` in the same synchronous step; `finished(generation, timeout)` then waits
until no request of that generation or an older one is left, so what the old config
used can be closed after its last user. Event loop thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InFlight:
    def __init__(self) -> None:
        self.generation = 0
        self._running: dict[int, int] = {}
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def count(self) -> int:
        return sum(self._running.values())

    def counted(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            generation = self.enter()
            try:
                return await handler(request)
            finally:
                self.leave(generation)

        return run

    def enter(self) -> int:
        generation = self.generation
        self._running[generation] = self._running.get(generation, 0) + 1
        return generation

    def leave(self, generation: int) -> None:
        left = self._running[generation] - 1
        if left:
            self._running[generation] = left
            return
        del self._running[generation]
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def advance(self) -> int:
        """Start a new generation; returns the one that ended."""
        self.generation += 1
        return self.generation - 1

    async def finished(self, generation: int, timeout: float) -> bool:
        """True once no request of `generation` or older runs; False after `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while any(g <= generation for g in self._running):
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            return False
        return True


IN_FLIGHT = web.AppKey("in_flight", InFlight)
