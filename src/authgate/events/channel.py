"""The state-event channel: one Protocol, a memory and a Redis implementation.

Contract (every implementation, checked by one shared suite in `tests/events/`):

- `publish(event)` delivers `event` to every listener subscribed in every process
  that shares the store — the publisher's own included — or raises
  `StoreUnavailable` when it cannot be sent. Delivery is at most once: what is
  published while a subscriber is disconnected never reaches it, which is why
  `on_lost` exists.
- `subscribe(listener)` adds a listener, called on the event loop with each event in
  the order published by one process; it must not block (schedule work instead).
  An exception from a listener is logged and does not reach the others. It returns
  the unsubscribe function.
- `on_lost(listener)` adds a listener called when delivery can no longer be trusted:
  the subscription dropped, or came back after a gap in which events may have been
  missed. A cache of shared state drops everything it holds then.
- `connected` is True only while events are being received; a cache serves entries
  only while it is True, and stores only what it read while it was True throughout.
- `start()` begins receiving (it returns without waiting for the store: a store that
  is down must not keep the gateway from starting); `close()` ends it, and is final.

`Fanout` is the listener bookkeeping both implementations share (`Listened` gives them
its `subscribe` and `on_lost`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from authgate.events.model import StateEvent

log = logging.getLogger(__name__)

Listener = Callable[[StateEvent], None]
LostListener = Callable[[], None]


class EventChannel(Protocol):
    async def publish(self, event: StateEvent) -> None: ...

    def subscribe(self, listener: Listener) -> Callable[[], None]: ...

    def on_lost(self, listener: LostListener) -> Callable[[], None]: ...

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class Fanout:
    """Listeners of events and of losses; each call isolated from the others."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lost: list[LostListener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return _added(self._listeners, listener)

    def on_lost(self, listener: LostListener) -> Callable[[], None]:
        return _added(self._lost, listener)

    def deliver(self, event: StateEvent) -> None:
        for listener in tuple(self._listeners):  # a listener may unsubscribe meanwhile
            try:
                listener(event)
            except Exception:
                log.exception("a state-event listener failed on %s", event.kind)

    def lost(self) -> None:
        for listener in tuple(self._lost):
            try:
                listener()
            except Exception:
                log.exception("a state-event loss listener failed")


class Listened:
    """`subscribe` and `on_lost` of a channel, over its `Fanout`."""

    def __init__(self) -> None:
        self._fanout = Fanout()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._fanout.subscribe(listener)

    def on_lost(self, listener: LostListener) -> Callable[[], None]:
        return self._fanout.on_lost(listener)


def _added(items: list[Callable[..., None]], item: Callable[..., None]) -> Callable[[], None]:
    items.append(item)

    def remove() -> None:
        if item in items:
            items.remove(item)

    return remove
