"""Typed application keys and the per-snapshot server runtime.

Contract: every piece of state the handler reads lives behind an `web.AppKey` defined
here (no scattered string keys). `ServerRuntime` is built once per config snapshot and
holds what the hot path needs precomputed: trusted proxies, upstream base URLs and
timeouts per route. A request reads `app[RUNTIME]` once at its start.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

from authgate.client_ip import TrustedProxies
from authgate.config.schema import UpstreamTimeouts
from authgate.config.snapshot import Snapshot
from authgate.decisionlog import DecisionLog


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

    @classmethod
    def build(cls, snapshot: Snapshot) -> ServerRuntime:
        server = snapshot.config.server
        upstreams = {
            route.id: _target(str(route.upstream), route.upstream_timeouts or server.upstream_timeouts)
            for route in snapshot.config.routes
        }
        return cls(snapshot, TrustedProxies.from_networks(server.trusted_proxies), upstreams)


def _target(upstream: str, timeouts: UpstreamTimeouts) -> UpstreamTarget:
    url = URL(upstream)
    timeout = aiohttp.ClientTimeout(
        total=timeouts.total, connect=timeouts.connect, sock_read=timeouts.read
    )
    assert url.raw_host is not None  # the schema only accepts http(s) URLs with a host
    return UpstreamTarget(url.scheme, url.raw_host, url.port, url.raw_path.rstrip("/"), timeout)


RUNTIME = web.AppKey("runtime", ServerRuntime)
CLIENT = web.AppKey("upstream_client", aiohttp.ClientSession)
DECISION_LOG = web.AppKey("decision_log", DecisionLog)
