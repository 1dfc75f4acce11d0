"""Carry out a `Forward` on the aiohttp front end: HTTP upstream, or a WebSocket.

Contract: `server/verdict.py` decided the request goes upstream and built what it
sends (`Forward`: URL target, headers, the headers added to the answer). Here, with
the aiohttp request in hand, the body limit is handed to the connection, which
counts a chunked body as it streams (`body_limit.limit_stream`); then the upstream's
in-flight gate admits it or the answer is a 503 at once (`verdict.shed`), and the
request is streamed upstream (`proxy/forward.py`). Upstream failures replace the
exchange's decision with an error (502/504) rendered as a page or JSON
(`verdict.upstream_failed`, see docs/headers.md). An `Upgrade` goes to
`server/websockets.py`, which checks the handshake, the Origin and the caps before
contacting the upstream. A forwarded request decided on a session follows it while
it streams (`server.following`): an SSE stream or a long poll is cut when the
session ends or stops passing the route's policy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web
from yarl import URL

from authgate.decision import Decision
from authgate.proxy.forward import UpstreamError, forward_http
from authgate.server.auth_state import AuthRuntime
from authgate.server.body_limit import limit_stream
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.following import cut_stream, following
from authgate.server.state import CLIENT, LIVE_SESSIONS, ServerRuntime
from authgate.server.verdict import Forward, Upgrade, shed, upstream_failed
from authgate.server.websockets import Outbound, forward_websocket


async def forward(
    request: web.Request,
    exchange: Exchange,
    plan: Forward,
    runtime: ServerRuntime,
    auth: AuthRuntime,
) -> web.StreamResponse:
    limit_stream(request, plan.max_body)
    gate = auth.guards.gates.gate(plan.gate_key)
    if not gate.try_enter():
        return shed(wire_of(request), exchange, runtime).response
    exchange.upstream_started = time.monotonic()
    try:
        with following(request.app[LIVE_SESSIONS], exchange, plan.route.id, _cut(request, exchange)):
            response, exchange.upstream_status = await forward_http(
                request,
                request.app[CLIENT],
                upstream_url(plan),
                plan.headers,
                plan.target.timeout,
                plan.response_headers,
            )
        return response
    except UpstreamError as failure:
        answer = upstream_failed(wire_of(request), exchange, runtime, failure.reason, failure.status)
        return answer.response
    finally:
        gate.leave()
        exchange.upstream_ended = time.monotonic()


async def upgrade(
    request: web.Request, exchange: Exchange, plan: Upgrade, runtime: ServerRuntime
) -> web.StreamResponse:
    forward = plan.forward
    limit_stream(request, forward.max_body)
    outbound = Outbound(
        upstream_url(forward), forward.headers, forward.target.timeout, forward.response_headers
    )
    return await forward_websocket(request, exchange, plan.result, forward.route, outbound, runtime)


def _cut(request: web.Request, exchange: Exchange) -> Callable[[Decision], None]:
    """A stream whose session ended: the client's connection is aborted (the status
    line may be out: a cut is the only honest end, RFC 9112 §8) and the handler's task
    cancelled, which ends the upstream request too; the record is still written (the
    handler's `finally`). aiohttp does not cancel a handler when its client goes."""
    task = asyncio.current_task()

    def abort() -> None:
        if request.transport is not None:
            request.transport.abort()
        if task is not None:
            task.cancel()

    return cut_stream(exchange, abort)


def upstream_url(plan: Forward) -> URL:
    target = plan.target
    path, _, query = plan.target_path.partition("?")  # a normalized path has no "?"
    return URL.build(
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        path=path,
        query_string=query,
        encoded=True,
    )
