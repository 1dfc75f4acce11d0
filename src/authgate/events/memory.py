"""The state-event channel of the memory store: one process, always connected.

Contract: the `EventChannel` contract (see `channel.py`) for one event loop. Every
event is delivered to this process's listeners with `loop.call_soon`, never inside
`publish`: a listener then runs after the publisher's step, as it would with Redis,
so code that passes on memory does not depend on a synchronous callback. Nothing is
ever lost, so `on_lost` listeners are never called.
"""

from __future__ import annotations

import asyncio

from authgate.events.channel import Listened
from authgate.events.model import StateEvent


class MemoryEventChannel(Listened):
    def __init__(self) -> None:
        super().__init__()
        self._closed = False

    async def publish(self, event: StateEvent) -> None:
        if not self._closed:
            asyncio.get_running_loop().call_soon(self._fanout.deliver, event)

    @property
    def connected(self) -> bool:
        return not self._closed

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._closed = True
