"""Requests in flight, by the config generation they pinned.

Contract: `InFlight.counted(handler)` wraps the request handler; the wrapper pins the
current generation to the request (`server.state.pin`: the one read of
`app[GENERATION]` a request makes) and counts the request under that generation's
number while the handler runs. A reload swaps `app[GENERATION]` in one synchronous
step; `finished(number, timeout)` then waits until no request of that generation or
an older one is left, so what the old config used can be closed after its last user.
`enter(number)` / `leave(number)` count a request pinned some other way. Event loop
thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from authgate.server.state import pin

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class InFlight:
    def __init__(self) -> None:
        self._running: dict[int, int] = {}
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def count(self) -> int:
        return sum(self._running.values())

    def counted(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            number = pin(request).number
            self.enter(number)
            try:
                return await handler(request)
            finally:
                self.leave(number)

        return run

    def enter(self, number: int) -> None:
        self._running[number] = self._running.get(number, 0) + 1

    def leave(self, number: int) -> None:
        left = self._running[number] - 1
        if left:
            self._running[number] = left
            return
        del self._running[number]
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def finished(self, number: int, timeout: float) -> bool:
        """True once no request of generation `number` or older runs; False after `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while any(g <= number for g in self._running):
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            return False
        return True


IN_FLIGHT = web.AppKey("in_flight", InFlight)
