"""Grants on the state-event channel (`authgate.events`, docs/events.md): GRANT_CHANGED.

Contract: `listen(cache, channel)` wires a process's grant cache to the channel — a
GRANT_CHANGED event for a subject drops that subject's cached grants, and a lost
channel (`on_lost`) drops them all — and returns the function that unwires it.
`announce(channel, grant)` publishes GRANT_CHANGED for the grant's holder (`ref` the
grant id) after every change the service makes, so every replica re-reads that
subject; the publisher's own cache gets it too. The channel raises
`StoreUnavailable` when it cannot send: the caller logs it, and the other replicas
converge when their cache entries reach `cache.MAX_AGE`.
"""

from __future__ import annotations

from collections.abc import Callable

from authgate.access.cache import ActiveGrants
from authgate.access.model import Grant
from authgate.events import EventChannel
from authgate.events.model import EventKind, StateEvent


def listen(cache: ActiveGrants, channel: EventChannel) -> Callable[[], None]:
    def on_event(event: StateEvent) -> None:
        if event.kind is EventKind.GRANT_CHANGED:
            cache.invalidate(event.provider, event.subject)

    unsubscribe = channel.subscribe(on_event)
    forget = channel.on_lost(cache.drop_all)

    def disconnect() -> None:
        unsubscribe()
        forget()

    return disconnect


async def announce(channel: EventChannel, grant: Grant) -> None:
    event = StateEvent(
        EventKind.GRANT_CHANGED, provider=grant.provider, subject=grant.subject, ref=grant.id
    )
    await channel.publish(event)
