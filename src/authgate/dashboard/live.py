"""Live updates for open dashboards: one tick a second, shared by every SSE client.

Contract: `LiveHub(make_tick).subscribe(capacity)` hands out a subscription while
fewer than `capacity` are open (None when full: the handler answers 503). While at least one
is open, one task calls `make_tick()` every `TICK_SECONDS` — once for all clients,
not once each — and puts the encoded event on every subscriber's queue. Each queue
holds at most `QUEUE_EVENTS`; a client that reads slower than that loses its oldest
events (a newer tick supersedes them), so a stalled browser costs a few events of
memory, never a growing buffer. With no subscriber the task ends: a closed dashboard
costs nothing. `close()` ends every subscription (the admin listener is stopping).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
QUEUE_EVENTS = 4
_CLOSED = b""


class Subscription:
    def __init__(self, hub: LiveHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=QUEUE_EVENTS)
        self.skipped = 0

    def offer(self, event: bytes) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # the oldest: the new tick supersedes it
            self.skipped += 1
        self._queue.put_nowait(event)

    async def next(self) -> bytes:
        """The next event; b"" once the hub closed."""
        return await self._queue.get()

    def close(self) -> None:
        self._hub.leave(self)


class LiveHub:
    def __init__(self, make_tick: Callable[[], bytes]) -> None:
        self._make_tick = make_tick
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        return len(self._subscribers)

    def subscribe(self, capacity: int) -> Subscription | None:
        if len(self._subscribers) >= capacity:
            return None
        subscription = Subscription(self)
        self._subscribers.add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="dashboard-live")
        return subscription

    def leave(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    async def _run(self) -> None:
        while self._subscribers:
            try:
                event = self._make_tick()
            except Exception:  # a bug in a view must not end the stream for good
                log.exception("dashboard: live update failed")
                event = b": tick failed\n\n"
            for subscription in list(self._subscribers):
                subscription.offer(event)
            await asyncio.sleep(TICK_SECONDS)

    async def close(self) -> None:
        for subscription in list(self._subscribers):
            subscription.offer(_CLOSED)
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
