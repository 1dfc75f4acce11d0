"""Build the aiohttp application: wiring only, in one documented place.

Contract: `build_app(snapshot)` returns an application whose every client (the
upstream session, the decision log) is created and closed in its cleanup context
(STYLE.md lesson 13). There are no middlewares: the handler calls each pipeline
stage explicitly so each can be timed and recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from authgate.config.snapshot import Snapshot
from authgate.decisionlog import DecisionLog
from authgate.server.auth_state import auth_context
from authgate.server.handler import handle
from authgate.server.state import CLIENT, DECISION_LOG, RUNTIME, ServerRuntime


def build_app(snapshot: Snapshot) -> web.Application:
    # client_max_size only bounds request.read()/post(); proxied bodies stream.
    app = web.Application(handler_args={"max_field_size": 16384, "max_line_size": 16384})
    app[RUNTIME] = ServerRuntime.build(snapshot)
    app.cleanup_ctx.append(_upstream_client)
    app.cleanup_ctx.append(_decision_log)
    app.cleanup_ctx.append(_auth)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _upstream_client(app: web.Application) -> AsyncIterator[None]:
    server = app[RUNTIME].snapshot.config.server
    connector = aiohttp.TCPConnector(
        limit=server.upstream_pool_size,
        limit_per_host=server.upstream_pool_size_per_host,
        keepalive_timeout=30.0,
        ttl_dns_cache=60,
    )
    # auto_decompress=False: bodies pass through byte for byte, Content-Encoding kept.
    # cookie_jar=DummyCookieJar: upstream cookies belong to the client, never to us.
    session = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
    )
    app[CLIENT] = session
    yield
    await session.close()


async def _auth(app: web.Application) -> AsyncIterator[None]:
    async for _ in auth_context(app, app[RUNTIME].snapshot.config):
        yield


async def _decision_log(app: web.Application) -> AsyncIterator[None]:
    config = app[RUNTIME].snapshot.config
    decision_log = DecisionLog.from_config(config.decision_log)
    await decision_log.start()
    app[DECISION_LOG] = decision_log
    yield
    await decision_log.close(timeout=config.server.shutdown_timeout)
