"""The privileged-access part of a config generation: store, cache, webhook, channel.

Contract: `AccessRuntime` holds the grant store (beside the session store, on the
same backend), the per-process cache of active grants over it, the webhook (when
configured) and the event channel the cache listens to (None until the gateway has
one: then only the memory store, one process, lets the cache keep entries).
`build_access_runtime(config, previous, kept_store=, kept_webhook=, events=)` reuses
`previous`'s store and webhook when `authgate.generation.RESOURCES` says so; the
cache goes with the store and with the channel it is wired to, and is rebuilt (empty)
when either changed. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.access.cache import ActiveGrants
from authgate.access.events import listen
from authgate.access.store import GrantStore, build_grant_store
from authgate.access.webhook import Webhook
from authgate.config.schema import GatewayConfig
from authgate.events import EventChannel


@dataclass(frozen=True)
class AccessRuntime:
    store: GrantStore
    cache: ActiveGrants
    webhook: Webhook | None
    events: EventChannel | None = None

    def close_parts(self) -> list[Any]:
        """What to close when replaced: the store, the cache (unhooked from the
        channel), the webhook."""
        return [part for part in (self.store, self.cache, self.webhook) if part is not None]


def build_access_runtime(
    config: GatewayConfig,
    previous: AccessRuntime | None,
    *,
    kept_store: bool,
    kept_webhook: bool,
    events: EventChannel | None = None,
) -> AccessRuntime:
    keep = previous is not None and kept_store
    if previous is not None and keep:
        store = previous.store
        store.configure(retention=config.access.retention, request_timeout=config.access.request_timeout)
    else:
        store = build_grant_store(config.store, config.access)
    webhook_config = config.access.webhook
    if previous is not None and kept_webhook:
        webhook = previous.webhook
    else:
        webhook = Webhook(webhook_config) if webhook_config is not None else None
    if previous is not None and keep and previous.events is events:
        return AccessRuntime(store, previous.cache, webhook, events)
    cache = ActiveGrants(store, trusted=_trust(config, events))
    return AccessRuntime(store, cache.wired(_wire(cache, events)), webhook, events)


def _trust(config: GatewayConfig, events: EventChannel | None) -> Callable[[], bool]:
    if config.store.backend == "memory":
        return lambda: True  # one process: every change goes through its `invalidate`
    if events is None:
        return lambda: False  # no channel: every read goes to the store
    channel = events
    return lambda: channel.connected


def _wire(cache: ActiveGrants, events: EventChannel | None) -> Callable[[], None] | None:
    return None if events is None else listen(cache, events)
