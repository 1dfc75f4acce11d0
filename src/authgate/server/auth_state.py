"""Everything login needs at run time, created and closed in one place.

Contract: `AuthRuntime` holds the session keys, the session store, one OIDC client
per provider, the refresh coordinator, the assertion signer and each route's compiled header templates. `auth_context(app)` is the cleanup context
that builds it at start (discovery is loaded in the background: a provider that is
down at start must not keep the gateway from serving public routes) and closes every
client at shutdown (STYLE.md lesson 13).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from authgate.config.schema import GatewayConfig
from authgate.mutate.assertion import AssertionKeys, AssertionSigner
from authgate.mutate.identity_headers import CompiledTemplates, compile_templates
from authgate.oidc.client import OIDCClient
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


AUTH = web.AppKey("auth_runtime", AuthRuntime)


def build_auth_runtime(config: GatewayConfig, http: aiohttp.ClientSession) -> AuthRuntime:
    keys = SessionKeys.from_secrets(config.secrets.cookie_secret) if config.secrets else None
    assertion_keys = (
        AssertionKeys.load_or_create(Path(config.secrets.assertion_keys))
        if config.secrets
        else None
    )
    cipher = TokenCipher(keys) if keys else None
    store = build_store(config.store, config.sessions, cipher=cipher)
    return AuthRuntime(
        keys=keys,
        cipher=cipher,
        store=store,
        oidc={p.id: OIDCClient(p, http) for p in config.providers},
        refresher=RefreshCoordinator(store, config.sessions.refresh_before),
        assertion_keys=assertion_keys,
        signer=AssertionSigner(assertion_keys) if assertion_keys else None,
        templates={r.id: compile_templates(r.headers) for r in config.routes},
    )


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
    yield
    for task in loading:
        task.cancel()
    await runtime.store.close()
    await http.close()
