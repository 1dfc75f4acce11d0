"""Everything login needs at run time, created and closed in one place.

Contract: `AuthRuntime` holds the session keys, the session store, one OIDC client
per provider, the refresh coordinator, the assertion signer and each route's compiled header
templates and header budget. `auth_context(app)` is the cleanup context
that builds it at start (discovery is loaded in the background: a provider that is
down at start must not keep the gateway from serving public routes) and closes every
client at shutdown (STYLE.md lesson 13).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from authgate.config.schema import GatewayConfig
from authgate.device.known_device import KnownDeviceCookie
from authgate.device.posture import PostureVerifier, http_jwks_fetch
from authgate.geo.databases import GeoDatabases
from authgate.mutate.assertion import AssertionKeys, AssertionSigner
from authgate.mutate.header_budget import HeaderBudget
from authgate.mutate.identity_headers import CompiledTemplates
from authgate.mutate.presets import compile_route_headers
from authgate.oidc.client import OIDCClient
from authgate.oidc.jwks import JwksCache
from authgate.policy.audience import effective_route_settings
from authgate.ops.state_dir import ASSERTION_KEY_FILE, state_file
from authgate.risk.history import HistoryStore, build_history_store
from authgate.server.guards import Guards, build_guards, close_guards
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import SessionKeys
from authgate.sessions.refresh import RefreshCoordinator
from authgate.sessions.store import SessionStore, build_store

log = logging.getLogger(__name__)

# Calls to providers get their own pool and timeouts, apart from upstream traffic.
_IDP_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


@dataclass(frozen=True)
class AuthRuntime:
    keys: SessionKeys | None
    cipher: TokenCipher | None
    store: SessionStore
    oidc: Mapping[str, OIDCClient]
    refresher: RefreshCoordinator
    assertion_keys: AssertionKeys | None
    signer: AssertionSigner | None
    templates: Mapping[str, CompiledTemplates]
    header_budgets: Mapping[str, HeaderBudget]
    geo: GeoDatabases | None
    history: HistoryStore | None
    posture: PostureVerifier | None
    known_devices: KnownDeviceCookie | None
    guards: Guards


AUTH = web.AppKey("auth_runtime", AuthRuntime)
# The AuthRuntime a request started with: read once, at the same moment as the
# ServerRuntime, so a hot reload never mixes two configs within one request.
REQUEST_AUTH = web.RequestKey("auth_runtime", AuthRuntime)


def auth_of(request: web.Request) -> AuthRuntime:
    pinned = request.get(REQUEST_AUTH)
    return pinned if pinned is not None else request.app[AUTH]


def build_auth_runtime(config: GatewayConfig, http: aiohttp.ClientSession) -> AuthRuntime:
    keys = SessionKeys.from_secrets(config.secrets.cookie_secret) if config.secrets else None
    assertion_keys = (
        AssertionKeys.load_or_create(
            state_file(config.server.state_dir, config.secrets.assertion_keys, ASSERTION_KEY_FILE)
        )
        if config.secrets
        else None
    )
    cipher = TokenCipher(keys) if keys else None
    store = build_store(config.store, config.sessions, cipher=cipher)
    preset = config.headers.preset
    templates = {r.id: compile_route_headers(r.headers, preset) for r in config.routes}
    return AuthRuntime(
        keys=keys,
        cipher=cipher,
        store=store,
        oidc={p.id: OIDCClient(p, http) for p in config.providers},
        refresher=RefreshCoordinator(store, config.sessions.refresh_before),
        assertion_keys=assertion_keys,
        signer=AssertionSigner(assertion_keys) if assertion_keys else None,
        templates=templates,
        header_budgets={
            r.id: HeaderBudget.build(
                r.headers, effective_route_settings(r).policy, templates[r.id]
            )
            for r in config.routes
        },
        geo=GeoDatabases.from_config(config.geoip) if config.geoip is not None else None,
        history=_history(config),
        posture=_posture(config, http),
        known_devices=_known_devices(config),
        guards=build_guards(config),
    )


def _history(config: GatewayConfig) -> HistoryStore | None:
    """A history store only when some route scores risk: no writes for nothing."""
    if not any(route.adaptive is not None for route in config.routes):
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


async def _load_discovery(client: OIDCClient) -> None:
    try:
        await client.load()
    except Exception as error:  # logged; logins retry the discovery themselves
        log.warning("provider %s: discovery failed at start: %s", client.config.id, error)


async def auth_context(app: web.Application, config: GatewayConfig) -> AsyncIterator[None]:
    http = aiohttp.ClientSession(timeout=_IDP_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar())
    runtime = build_auth_runtime(config, http)
    app[AUTH] = runtime
    loading = [asyncio.create_task(_load_discovery(c)) for c in runtime.oidc.values()]
    if runtime.geo is not None and config.geoip is not None:
        loading.append(asyncio.create_task(runtime.geo.watch(config.geoip.reload_interval)))
    yield
    for task in loading:
        task.cancel()
    # Close what serves now: a hot reload may have replaced (and closed) the first one.
    current = app[AUTH]
    await current.store.close()
    await close_guards(current.guards)
    if current.history is not None:
        await current.history.close()
    if current.geo is not None:
        current.geo.close()
    await http.close()
