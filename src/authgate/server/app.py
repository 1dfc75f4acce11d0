"""Build the aiohttp application: wiring only, in one documented place.

Contract: `build_app(snapshot, metrics=...)` returns an application whose every
client (the upstream session, the decision log, the providers' session for reloads)
is created and closed in its cleanup context (STYLE.md lesson 13). There are no
middlewares: the handler calls each pipeline stage explicitly so each can be timed
and recorded. The one wrapper around it, `InFlight.counted`, counts each request
under the config generation it started on (hot reload, `ops.inflight`).

State on the app, each behind a typed key: `GENERATION` (the current config
generation, swapped by reloads; `authgate.generation`), `STARTED_WITH` (the snapshot
the process started with: the restart-only settings are read from it), `METRICS`,
`IN_FLIGHT`, `LIVE_WEBSOCKETS` and `DRAIN` (graceful drain), `LIVE_SESSIONS` (open
WebSockets and streams by session, closed when it ends: `continuous.connections`),
`READINESS` (extra `/readyz` checks other parts may add from their cleanup context),
`RELOADER`, `DASHBOARD` (what the admin listener's dashboard reads; absent when it is off).

Cleanup contexts start in this order and stop in the reverse one: upstream client,
WebSocket client, decision log, generations (the first one is built here, and the
reloader that replaces it), the grant sweeper (`server/grant_sweeper.py`), the sweep
of followed connections, the Shared Signals poller (`signals.poll`: idle unless a
provider polls its transmitter), metrics sampling. So at shutdown the decision log is
flushed after the last request finished and after the auth clients closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import aiohttp
from aiohttp import web

from authgate.config.snapshot import Snapshot
from authgate.continuous.connections import SessionConnections
from authgate.dashboard.source import build_dashboard
from authgate.decisionlog import DecisionLog
from authgate.ops.admin import READINESS, ReadinessChecks, sampling
from authgate.ops.drain import (
    DRAIN,
    LIVE_WEBSOCKETS,
    DrainState,
    LiveWebSockets,
    close_websockets,
)
from authgate.ops.dashboard import DASHBOARD
from authgate.ops.inflight import IN_FLIGHT, InFlight
from authgate.ops.metrics import METRICS, Metrics
from authgate.ops.reload import IDP_TIMEOUT, Reloader
from authgate.server.body_limit import expect_continue
from authgate.server.grant_sweeper import grant_sweeper
from authgate.server.handler import handle
from authgate.server.page_headers import hide_server_version
from authgate.server.signals_endpoint import signal_receiver
from authgate.server.state import CLIENT, DECISION_LOG, GENERATION, LIVE_SESSIONS, WS_CLIENT
from authgate.signals.poll import Poller
from authgate.signals.receive import Receiver
from authgate.signals.transmitter import Transmitter

RELOADER = web.AppKey("reloader", Reloader)
STARTED_WITH = web.AppKey("started_with", Snapshot)


def build_app(snapshot: Snapshot, *, metrics: Metrics | None = None) -> web.Application:
    hide_server_version()  # for this process: both listeners, every response
    # client_max_size only bounds request.read()/post(); proxied bodies stream. The
    # parser's size limits are set per connection (server/protocol.py).
    app = web.Application()
    app[STARTED_WITH] = snapshot
    app[METRICS] = metrics if metrics is not None else Metrics()
    inflight = InFlight()
    app[IN_FLIGHT] = inflight
    app[LIVE_WEBSOCKETS] = LiveWebSockets()
    app[LIVE_SESSIONS] = SessionConnections()
    app[DRAIN] = DrainState()
    app[READINESS] = ReadinessChecks()
    app.cleanup_ctx.append(_upstream_client)
    app.cleanup_ctx.append(_websocket_client)
    app.cleanup_ctx.append(_decision_log)
    app.cleanup_ctx.append(_generations)
    app.cleanup_ctx.append(grant_sweeper)
    app.cleanup_ctx.append(_following)
    app.cleanup_ctx.append(_signal_polling)
    app.cleanup_ctx.append(sampling)
    app.on_shutdown.append(close_websockets)
    # Every path reaches the handler, which refuses what it must with a record: `.`
    # would not match a `%0a` (LF), which aiohttp's router then answered 404 itself.
    app.router.add_route(
        "*", r"/{tail:[\s\S]*}", inflight.counted(handle), expect_handler=expect_continue
    )
    return app


async def _upstream_client(app: web.Application) -> AsyncIterator[None]:
    server = app[STARTED_WITH].config.server
    connector = aiohttp.TCPConnector(
        limit=server.upstream_pool_size,
        limit_per_host=server.upstream_pool_size_per_host,
        keepalive_timeout=30.0,
        ttl_dns_cache=60,
    )
    session = _upstream_session(connector)
    app[CLIENT] = session
    yield
    await session.close()


async def _websocket_client(app: web.Application) -> AsyncIterator[None]:
    # Its own connector: a WebSocket holds its upstream connection for as long as it
    # is open, so on the HTTP pool `upstream_pool_size_per_host` tunnels would make
    # every other request to that upstream wait. Unbounded here: the WebSocket caps
    # (limits.websockets, routes[].websocket.max_connections) bound it instead.
    session = _upstream_session(aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=60))
    app[WS_CLIENT] = session
    yield
    await session.close()


def _upstream_session(connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
    # auto_decompress=False: bodies pass through byte for byte, Content-Encoding kept.
    # cookie_jar=DummyCookieJar: upstream cookies belong to the client, never to us.
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def _generations(app: web.Application) -> AsyncIterator[None]:
    # One session for every generation's calls to providers (discovery, tokens, JWKS).
    idp_http = aiohttp.ClientSession(timeout=IDP_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar())
    reloader = Reloader(
        app, app[STARTED_WITH], metrics=app[METRICS], inflight=app[IN_FLIGHT], idp_http=idp_http
    )
    app[RELOADER] = reloader
    reloader.start()
    yield
    await reloader.close()
    await idp_http.close()


async def _following(app: web.Application) -> AsyncIterator[None]:
    # After the generations: the sweep reads the current one. Stops before them.
    follow = app[LIVE_SESSIONS]
    sweep = asyncio.create_task(follow.run())
    yield
    sweep.cancel()
    await follow.close()


async def _signal_polling(app: web.Application) -> AsyncIterator[None]:
    def current() -> tuple[Mapping[str, Transmitter], Receiver]:
        auth = app[GENERATION].auth  # the current generation, read each round
        return auth.signals, signal_receiver(app, auth)

    http = aiohttp.ClientSession(timeout=IDP_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar())
    task = asyncio.create_task(Poller(current, http).run(), name="signals-poller")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await http.close()


async def _decision_log(app: web.Application) -> AsyncIterator[None]:
    config = app[STARTED_WITH].config
    # The dashboard's local feed is a tap on the log's writer (dashboard.tap).
    dashboard = build_dashboard(config)
    taps = [dashboard.local.absorb] if dashboard is not None and dashboard.local else []
    decision_log = DecisionLog.from_config(config.decision_log, config.server.state_dir, taps=taps)
    await decision_log.start()
    app[DECISION_LOG] = decision_log
    if dashboard is not None:
        app[DASHBOARD] = dashboard
    yield
    # The value read at start: shutdown_timeout is a restart-only setting (ops.changes).
    await decision_log.close(timeout=config.server.shutdown_timeout)
    if dashboard is not None:
        await asyncio.to_thread(dashboard.close)  # joins a shared feed's reader thread
