"""`CoarseTimer`: the one timer of a connection (or of an exchange), re-armed lazily.

Contract: `arm(deadline)` makes the timer fire at or before `deadline` (the event
loop's clock). A later deadline than the one already set keeps the earlier handle —
the timer fires early, its owner finds nothing due yet and arms it again — so a
connection reschedules nothing per read; an earlier deadline replaces it. The
callback runs with the timer disarmed. `cancel()` disarms it. Event loop thread only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class CoarseTimer:
    __slots__ = ("_loop", "_callback", "_handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, deadline: float) -> None:
        handle = self._handle
        if handle is not None:
            if handle.when() <= deadline:
                return  # it fires early and re-arms (no reschedule per read)
            handle.cancel()
        self._handle = self._loop.call_at(deadline, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._callback()
