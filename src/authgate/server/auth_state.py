"""The auth half of a config generation: everything login, guards and the adaptive
checks need at run time.

Contract: `AuthRuntime` holds the session keys, the session store, the state-event
channel every process on that store shares (`authgate.events`), one OIDC client per
provider, one Shared Signals transmitter per provider with `signals` (docs/continuous.md),
the refresh coordinator, the assertion signer, each route's compiled header
templates (the snapshot's, compiled once) and header budget, the GeoIP readers, the
risk history store, the device verifiers, the guards, the tracer
(`authgate.tracing`: None while tracing is off) and the DPoP nonce keys (derived
from the secrets for every generation: a pure value, equal while the secrets are). `build_auth_runtime` builds
it, reusing the resources of the previous generation that `authgate.generation`'s
table says to keep; no network I/O (providers load their discovery later).
`auth_of(request)` is the auth half of the generation the request pinned at its start.
Creating, swapping and closing generations is `ops.reload`'s (STYLE.md lesson 13).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import aiohttp
from aiohttp import web

from authgate.access.runtime import AccessRuntime, build_access_runtime
from authgate.config.schema import GatewayConfig
from authgate.config.snapshot import Snapshot
from authgate.device.known_device import KnownDeviceCookie
from authgate.device.posture import PostureVerifier, http_jwks_fetch
from authgate.events import EventChannel, build_channel
from authgate.geo.databases import GeoDatabases
from authgate.mutate.assertion import AssertionKeys, AssertionSigner
from authgate.mutate.header_budget import HeaderBudget
from authgate.mutate.identity_headers import CompiledTemplates
from authgate.oidc.client import OIDCClient
from authgate.oidc.jwks import JwksCache
from authgate.ops.state_dir import ASSERTION_KEY_FILE, state_file
from authgate.ratelimit.shedding import UpstreamGates
from authgate.resource.nonce import DpopNonces
from authgate.risk.history import HistoryStore, build_history_store
from authgate.server.guards import Guards, build_limiter, build_regulator
from authgate.server.state import generation_of
from authgate.sessions.cache import SessionCache
from authgate.sessions.cached_store import CachedSessionStore
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import SessionKeys
from authgate.sessions.refresh import RefreshCoordinator
from authgate.sessions.store import SessionStore, build_store
from authgate.signals.transmitter import Transmitter
from authgate.tracing import build_tracing

if TYPE_CHECKING:
    from authgate.tracing.provider import Tracing


@dataclass(frozen=True)
class AuthRuntime:
    keys: SessionKeys | None
    cipher: TokenCipher | None
    store: SessionStore
    events: EventChannel
    oidc: Mapping[str, OIDCClient]
    signals: Mapping[str, Transmitter]  # providers with a Shared Signals transmitter
    refresher: RefreshCoordinator
    assertion_keys: AssertionKeys | None
    signer: AssertionSigner | None
    templates: Mapping[str, CompiledTemplates]
    header_budgets: Mapping[str, HeaderBudget]
    geo: GeoDatabases | None
    history: HistoryStore | None
    posture: PostureVerifier | None
    known_devices: KnownDeviceCookie | None
    access: AccessRuntime
    guards: Guards
    dpop_nonces: DpopNonces | None = None  # from the secrets: the same in every replica
    tracing: Tracing | None = None  # None: tracing is off (no OpenTelemetry loaded)


def auth_of(request: web.Request) -> AuthRuntime:
    """The auth half of the generation the request pinned at its start."""
    return generation_of(request).auth


def build_auth_runtime(
    snapshot: Snapshot,
    http: aiohttp.ClientSession,
    previous: AuthRuntime | None = None,
    *,
    kept: frozenset[str] = frozenset(),
    providers: frozenset[str] = frozenset(),
) -> AuthRuntime:
    """The auth half for `snapshot`: `previous`'s resources named in `kept` (see
    `authgate.generation.RESOURCES`) and its clients of `providers` are reused."""
    config = snapshot.config

    def old(name: str) -> AuthRuntime | None:
        return previous if previous is not None and name in kept else None

    events = _reuse(old("events"), lambda a: a.events, lambda: build_channel(config.store))
    keys, cipher, store, refresher = _sessions(config, old("store"), events)
    assertion = old("assertion_keys")
    assertion_keys = assertion.assertion_keys if assertion else _assertion_keys(config)
    templates = snapshot.compiled.templates
    return AuthRuntime(
        keys=keys,
        cipher=cipher,
        store=store,
        events=events,
        oidc=_clients(config, http, previous.oidc if previous else {}, providers),
        signals=_transmitters(config, http, previous.signals if previous else {}, providers),
        refresher=refresher,
        assertion_keys=assertion_keys,
        signer=_signer(assertion, assertion_keys),
        templates=templates,
        header_budgets={
            r.id: HeaderBudget.build(
                r.headers, snapshot.compiled.policies[r.id].settings.policy, templates[r.id]
            )
            for r in config.routes
        },
        geo=_reuse(old("geo"), lambda a: a.geo, lambda: _geo(config)),
        history=_reuse(old("history"), lambda a: a.history, lambda: _history(config)),
        posture=_reuse(old("posture"), lambda a: a.posture, lambda: _posture(config, http)),
        known_devices=_reuse(
            old("known_devices"), lambda a: a.known_devices, lambda: _known_devices(config)
        ),
        dpop_nonces=DpopNonces.from_secrets(config.secrets.cookie_secret) if config.secrets else None,
        access=build_access_runtime(
            config,
            previous.access if previous is not None else None,
            kept_store="access" in kept,
            kept_webhook="webhook" in kept,
            events=events,
        ),
        tracing=_reuse(
            old("tracing"), lambda a: a.tracing, lambda: build_tracing(config.observability.tracing)
        ),
        # Last: it gives the kept gates the new cap, so nothing may fail after it.
        guards=_guards(config, previous, old("limiter"), old("regulator"), events),
    )


T = TypeVar("T")


def _reuse(
    previous: AuthRuntime | None, part: Callable[[AuthRuntime], T], build: Callable[[], T]
) -> T:
    return part(previous) if previous is not None else build()


def _sessions(
    config: GatewayConfig, previous: AuthRuntime | None, events: EventChannel
) -> tuple[SessionKeys | None, TokenCipher | None, SessionStore, RefreshCoordinator]:
    if previous is not None:  # the store holds the cipher: they go together
        return previous.keys, previous.cipher, previous.store, previous.refresher
    keys = SessionKeys.from_secrets(config.secrets.cookie_secret) if config.secrets else None
    cipher = TokenCipher(keys) if keys else None
    sessions = config.sessions
    backend = build_store(config.store, sessions, cipher=cipher)
    store = CachedSessionStore(
        backend, events, idle_timeout=sessions.idle_timeout, cache=_cache(config)
    )
    # Re-reads under the refresh lock go to the backend: see cached_store.py.
    refresher = RefreshCoordinator(store, sessions.refresh_before, reread=backend)
    return keys, cipher, store, refresher


def _cache(config: GatewayConfig) -> SessionCache | None:
    """A session cache for a Redis store (the memory store is in this process already)."""
    cache = config.sessions.cache
    if config.store.backend != "redis" or cache.size == 0:
        return None
    return SessionCache(size=cache.size, ttl=cache.ttl)


def _assertion_keys(config: GatewayConfig) -> AssertionKeys | None:
    if config.secrets is None:
        return None
    path = state_file(config.server.state_dir, config.secrets.assertion_keys, ASSERTION_KEY_FILE)
    return AssertionKeys.load_or_create(path)


def _signer(previous: AuthRuntime | None, keys: AssertionKeys | None) -> AssertionSigner | None:
    if previous is not None:
        return previous.signer
    return AssertionSigner(keys) if keys else None


def _clients(
    config: GatewayConfig,
    http: aiohttp.ClientSession,
    previous: Mapping[str, OIDCClient],
    kept: frozenset[str],
) -> dict[str, OIDCClient]:
    """A client per provider; a kept one keeps its discovery document and JWKS cache."""
    return {
        p.id: previous[p.id] if p.id in kept and p.id in previous else OIDCClient(p, http)
        for p in config.providers
    }


def _transmitters(
    config: GatewayConfig,
    http: aiohttp.ClientSession,
    previous: Mapping[str, Transmitter],
    kept: frozenset[str],
) -> dict[str, Transmitter]:
    """A transmitter per provider with `signals`; a kept one keeps its metadata and
    JWKS cache (the same rule as the OIDC clients: its provider's config unchanged)."""
    return {
        p.id: previous[p.id] if p.id in kept and p.id in previous else Transmitter(p, http)
        for p in config.providers
        if p.signals is not None
    }


def _guards(
    config: GatewayConfig,
    previous: AuthRuntime | None,
    limiter: AuthRuntime | None,
    regulator: AuthRuntime | None,
    events: EventChannel,
) -> Guards:
    limits = config.limits
    cap = limits.max_inflight_per_upstream
    if previous is None:
        gates = UpstreamGates(cap)
    else:
        # Counts of requests in flight, not config: always kept; those in flight stay
        # counted against the new cap.
        gates = previous.guards.gates
        gates.resize(cap)
    return Guards(
        limiter.guards.limiter if limiter else build_limiter(config.store),
        regulator.guards.regulator
        if regulator
        else build_regulator(config.store, limits.regulation, events),
        gates,
    )


def scores_risk(config: GatewayConfig) -> bool:
    """Whether some route scores risk (and so needs the history store)."""
    return any(route.adaptive is not None for route in config.routes)


def _geo(config: GatewayConfig) -> GeoDatabases | None:
    if config.geoip is None:
        return None
    return GeoDatabases.from_config(config.geoip)


def _history(config: GatewayConfig) -> HistoryStore | None:
    """A history store only when some route scores risk: no writes for nothing."""
    if not scores_risk(config):
        return None
    return build_history_store(config.store, config.risk_history)


def _posture(config: GatewayConfig, http: aiohttp.ClientSession) -> PostureVerifier | None:
    posture = config.devices.posture
    if posture is None:
        return None
    return PostureVerifier(posture, JwksCache(http_jwks_fetch(http, posture.jwks_uri)))


def _known_devices(config: GatewayConfig) -> KnownDeviceCookie | None:
    cookie = config.devices.known_device_cookie
    if cookie is None or config.secrets is None:
        return None
    return KnownDeviceCookie.from_secrets(config.secrets.cookie_secret, cookie)
