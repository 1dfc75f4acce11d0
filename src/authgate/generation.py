"""One config generation: everything built from one config file, in one place.

Contract (STYLE.md lessons 7 and 14):

* `Generation` is frozen: the `snapshot` (config, route table, policies and header
  templates, compiled once), its `server` half (`ServerRuntime`: what the data plane
  reads) and its `auth` half (`AuthRuntime`: sessions, providers, keys, guards, GeoIP,
  devices, risk history, the tracer), and its `number` (0 at start, one more per applied reload;
  `ops.inflight` counts requests by it). A request pins one generation at its start
  and uses only it; a reload swaps the one reference.
* `build_generation(snapshot, previous, idp_http=...)` is the only builder. Both halves
  share the snapshot's compiled policies and templates. The resources of `previous`
  are reused by one rule, `RESOURCES` below: a resource is kept while every config
  value it reads is unchanged, and otherwise built anew. An OIDC client is kept while
  its provider's config is unchanged. The pure values (route table, policies,
  templates, header budgets, pages, route limits, risk rules, upstream targets,
  trusted proxies, connection limits) are compiled for every generation. The upstream
  gates (requests in flight per upstream) are counts, not config: they are kept
  always and take the new cap (`UpstreamGates.resize`) — when the new generation is
  built, which is the last step of a reload that can fail.
* `dropped(old, new)` names the resources `old` holds that `new` does not; the reloader
  closes them (`close_resources`) once the requests pinned to `old` are done.
Building does blocking file reads (GeoIP databases, the assertion key file, the
page templates) and no network I/O: providers load their discovery later.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from authgate.config.schema import GatewayConfig
from authgate.config.snapshot import Snapshot
from authgate.server.auth_state import AuthRuntime, build_auth_runtime, scores_risk
from authgate.server.state import ServerRuntime

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

Reads = Callable[[GatewayConfig], object]

# The reuse table: each resource of the auth half and the config values it is built
# from. Kept while they compare equal; built anew (the old one closed after its last
# request) when any of them changed.
RESOURCES: Mapping[str, Reads] = {
    # The memory store holds the sessions themselves: a new one logs everyone out.
    # With it go the refresh coordinator and the session keys that encrypt its tokens.
    "store": lambda c: (c.secrets, c.store, c.sessions),
    # The state-event channel (a pub/sub subscription on a Redis store) depends only on
    # where the store is: a reload that rotates a secret or changes a timeout keeps the
    # subscription, and with it everything subscribed to it.
    "events": lambda c: c.store,
    # Loaded from (or created in) a file; the signer and the published JWKS go with it.
    "assertion_keys": lambda c: (c.secrets, c.server.state_dir),
    # Rate-limit counters survive every reload that keeps the store: a reload that
    # adds a route or changes a limit does not hand each client a fresh allowance.
    "limiter": lambda c: c.store,
    # Failure counts and bans: kept while the store and the regulation are unchanged.
    "regulator": lambda c: (c.store, c.limits.regulation),
    # Open readers and their lookup cache; a kept one still reloads changed files.
    "geo": lambda c: c.geoip,
    # What the risk engine remembers per user (built only when a route scores risk).
    "history": lambda c: (c.store, c.risk_history, scores_risk(c)),
    # The posture verifier holds its JWKS cache.
    "posture": lambda c: c.devices.posture,
    "known_devices": lambda c: (c.secrets, c.devices.known_device_cookie),
    # The grant store (the memory one holds the grants) and the cache over it: kept
    # while the store is — a kept one takes the new retention and request timeout
    # (`GrantStore.configure`); entitlements may change freely (a grant counts only
    # while its entitlement is declared: `access.service`).
    "access": lambda c: c.store,
    # The webhook's queue and its HTTP client (kept inside `access`).
    "webhook": lambda c: c.access.webhook,
    # The tracer provider, its exporter and their thread (None while tracing is off).
    "tracing": lambda c: c.observability.tracing,
}


@dataclass(frozen=True)
class Generation:
    number: int
    snapshot: Snapshot
    server: ServerRuntime
    auth: AuthRuntime

    @property
    def config(self) -> GatewayConfig:
        return self.snapshot.config


def kept(old: GatewayConfig, new: GatewayConfig) -> frozenset[str]:
    """The resources of `RESOURCES` that a generation for `new` takes over from `old`'s."""
    return frozenset(name for name, reads in RESOURCES.items() if reads(old) == reads(new))


def kept_providers(old: GatewayConfig, new: GatewayConfig) -> frozenset[str]:
    """The providers whose OIDC client (discovery document, JWKS cache) is kept."""
    before = {p.id: p for p in old.providers}
    return frozenset(p.id for p in new.providers if before.get(p.id) == p)


def build_generation(
    snapshot: Snapshot, previous: Generation | None, *, idp_http: aiohttp.ClientSession
) -> Generation:
    """Everything `snapshot` implies, reusing `previous`'s resources by `RESOURCES`."""
    server = ServerRuntime.build(snapshot)
    if previous is None:
        return Generation(0, snapshot, server, build_auth_runtime(snapshot, idp_http))
    old = previous.config
    auth = build_auth_runtime(
        snapshot,
        idp_http,
        previous.auth,
        kept=kept(old, snapshot.config),
        providers=kept_providers(old, snapshot.config),
    )
    return Generation(previous.number + 1, snapshot, server, auth)


class Closable(Protocol):
    def close(self) -> object: ...  # None, or an awaitable (the stores)


def resources(auth: AuthRuntime) -> list[Closable]:
    """What `auth` holds that must be closed: connections, files, caches."""
    held: list[Closable | None] = [
        # The stores before the channel: closing a store may still publish.
        auth.store, *auth.access.close_parts(), auth.events, auth.guards.limiter,
        auth.guards.regulator, auth.history, auth.geo,
        auth.tracing,
    ]
    return [item for item in held if item is not None]


def dropped(old: Generation, new: Generation) -> list[Closable]:
    """The resources of `old` that `new` does not hold (by identity)."""
    kept_now = {id(item) for item in resources(new.auth)}
    return [item for item in resources(old.auth) if id(item) not in kept_now]


async def close_resources(items: Iterable[Closable]) -> None:
    """Close each; a failure is logged and the rest are still closed."""
    for item in items:
        try:
            result = item.close()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("closing %s of a replaced config failed", type(item).__name__)
