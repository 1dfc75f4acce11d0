"""The start and the end every request shares, on both front ends.

Contract: `open_exchange(wire, runtime, auth)` gathers the facts, opens the
`Exchange` (status 499 until an answer is chosen: nginx's "client closed request"),
names the request in every log line of its lifetime (`ops.logs.REQUEST_ID`, and
`TRACE_ID` when traced) and, when tracing is on, starts its trace
(`exchange.trace`, `authgate.tracing`) — with tracing off that costs one `is None`.
`close_exchange(app, exchange, runtime, scope)` writes the one decision record,
counts it in the metrics, ends the trace and the log names. The aiohttp handler
(`server/handler.py`) and the data plane (`dataplane/exchange.py`) call these two
and nothing else around their own work, so both leave the same record and trace.
"""

from __future__ import annotations

import logging
from contextvars import Token

from aiohttp import web

from authgate.decision import Reason
from authgate.ops.logs import REQUEST_ID, TRACE_ID
from authgate.ops.metrics import METRICS
from authgate.server.auth_state import AuthRuntime
from authgate.server.exchange import Exchange
from authgate.server.facts import gather_facts
from authgate.server.state import DECISION_LOG, ServerRuntime
from authgate.wire import Wire

log = logging.getLogger(__name__)
CLIENT_CLOSED = 499  # nginx's "client closed request"

LogScope = tuple[Token[str | None], Token[str | None] | None]


def open_exchange(
    wire: Wire, runtime: ServerRuntime, auth: AuthRuntime
) -> tuple[Exchange, Reason | None, LogScope]:
    """The request's exchange, the refusal its facts call for, and its log scope."""
    facts, problem = gather_facts(wire, runtime)
    exchange = Exchange(facts)
    exchange.status = CLIENT_CLOSED  # stays only if the client left before an answer
    named = REQUEST_ID.set(facts.request_id)
    tracing = auth.tracing
    if tracing is None:
        return exchange, problem, (named, None)
    trace = exchange.trace = tracing.begin(wire, facts)
    return exchange, problem, (named, TRACE_ID.set(trace.trace_id))


def close_exchange(
    app: web.Application, exchange: Exchange, runtime: ServerRuntime, scope: LogScope
) -> None:
    """The one record, the metrics, the end of the trace and of the log scope."""
    record = exchange.record()
    app[DECISION_LOG].submit(record)
    app[METRICS].observe(record)
    named, traced = scope
    trace = exchange.trace
    if trace is not None:
        route_id = exchange.decision.route_id
        try:
            trace.finish(exchange, runtime.snapshot.routes.by_id(route_id) if route_id else None)
        except Exception:  # a tracing bug must not cost the request its answer
            log.exception("ending the trace of request %s failed", record.request_id)
    if traced is not None:
        TRACE_ID.reset(traced)
    REQUEST_ID.reset(named)
