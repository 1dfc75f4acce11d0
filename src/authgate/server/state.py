"""Typed application keys and the server half of a config generation.

Contract: every piece of state the handler reads lives behind an `web.AppKey` defined
here (no scattered string keys). `ServerRuntime` is built once per config generation
(`authgate.generation`) and holds what the hot path needs precomputed: trusted
proxies, upstream base URLs and timeouts per route, the pages, the route policies (the
snapshot's, compiled once), risk rules and limits. `app[GENERATION]` is the current
generation, the one key a reload swaps; a request pins it once at its start
(`REQUEST_GENERATION`, read back by `generation_of(request)`) and uses only it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from authgate.continuous.connections import SessionConnections
from authgate.client_ip import TrustedProxies
from authgate.config.schema import GatewayConfig, UpstreamTimeouts
from authgate.config.schema_pages import PagesConfig
from authgate.config.snapshot import Snapshot
from authgate.conn.limits import ConnectionLimits
from authgate.decisionlog import DecisionLog
from authgate.policy.compile import RoutePolicy
from authgate.ratelimit.route_limits import RouteLimit, compile_limits
from authgate.risk.rules import RiskRules, compile_rules
from authgate.routing import Route
from authgate.server.branding import Branding, load_branding
from authgate.server.pages import PageRenderer

if TYPE_CHECKING:
    from authgate.generation import Generation


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    scheme: str
    host: str  # as it goes in a URL (IPv6 in brackets is yarl's business)
    port: int | None
    base_path: str  # without trailing slash; "" for the root
    timeout: aiohttp.ClientTimeout


@dataclass(frozen=True, slots=True)
class ServerRuntime:
    snapshot: Snapshot
    trusted: TrustedProxies
    upstreams: dict[str, UpstreamTarget]
    pages: PageRenderer
    policies: Mapping[str, RoutePolicy]  # the snapshot's (compiled once), by route id
    risk_rules: dict[str, RiskRules]  # routes with an `adaptive:` block only
    route_limits: dict[str, tuple[RouteLimit, ...]]
    connection_limits: ConnectionLimits  # read by each new connection (server/protocol.py)

    @classmethod
    def build(cls, snapshot: Snapshot) -> ServerRuntime:
        server = snapshot.config.server
        upstreams = {
            route.id: _target(route, server.upstream_timeouts) for route in snapshot.routes.routes
        }
        return cls(
            snapshot,
            TrustedProxies.from_networks(server.trusted_proxies),
            upstreams,
            page_renderer(snapshot.config),
            snapshot.compiled.policies,
            {
                route.id: compile_rules(route.adaptive, route.audience)
                for route in snapshot.config.routes
                if route.adaptive is not None
            },
            {route.id: compile_limits(route.rate_limit) for route in snapshot.config.routes},
            ConnectionLimits.from_config(snapshot.config),
        )


def page_renderer(config: GatewayConfig) -> PageRenderer:
    """The pages as configured; raises `TemplateError` or `BrandingError` (also run by
    `ops.preflight`)."""
    folder = config.server.templates_dir
    return PageRenderer(Path(folder) if folder else None, _branding(config.pages))


def _branding(pages: PagesConfig) -> Branding:
    logo = Path(pages.logo) if pages.logo else None
    return load_branding(pages.title, logo, pages.accent)


def _target(route: Route, defaults: UpstreamTimeouts) -> UpstreamTarget:
    """A route's own timeouts win key by key; the rest come from `server`."""
    own = route.config.upstream_timeouts
    total = own.total if own is not None and "total" in own.model_fields_set else defaults.total
    timeout = aiohttp.ClientTimeout(
        total=total,
        connect=route.connect_timeout or defaults.connect,
        sock_read=route.read_timeout or defaults.read,
    )
    upstream = route.upstream
    # yarl wants IPv6 literals bracketed in URL.build(host=...)
    host = f"[{upstream.host}]" if ":" in upstream.host else upstream.host
    return UpstreamTarget(upstream.scheme, host, upstream.port, upstream.base_path, timeout)


# The current generation (swapped by reloads) and the one a request pinned at its start.
# Typed without the class at run time: `authgate.generation` imports this module.
GENERATION: web.AppKey[Generation] = web.AppKey("generation")
REQUEST_GENERATION: web.RequestKey[Generation] = web.RequestKey("generation")
CLIENT = web.AppKey("upstream_client", aiohttp.ClientSession)
# WebSocket tunnels to upstreams: their own connector, apart from CLIENT's pool.
WS_CLIENT = web.AppKey("websocket_client", aiohttp.ClientSession)
DECISION_LOG = web.AppKey("decision_log", DecisionLog)
# Long-lived connections by session (`continuous.connections`): outlive reloads.
LIVE_SESSIONS = web.AppKey("live_sessions", SessionConnections)


def pin(request: web.Request) -> Generation:
    """Pin the current generation to `request` (once, at its start) and answer it."""
    generation = request.app[GENERATION]
    request[REQUEST_GENERATION] = generation
    return generation


def generation_of(request: web.Request) -> Generation:
    """The generation `request` pinned; the current one if it pinned none."""
    pinned = request.get(REQUEST_GENERATION)
    return pinned if pinned is not None else request.app[GENERATION]


def runtime_of(request: web.Request) -> ServerRuntime:
    return generation_of(request).server
