"""`RequestTrace`: the spans of one request — a server span, a child per stage.

Contract (imported only when tracing is enabled: `authgate.tracing`):

* `RequestTrace(tracer, wire, facts)` is built by the front end right after the
  facts (`server/request_scope.py`). Its parent is the `traceparent` (and
  `tracestate`) a *trusted* proxy sent (`facts.peer_trusted`, the trusted-proxies
  rule of `authgate.client_ip`); anyone else's is ignored and the request starts a
  new trace (W3C Trace Context §4.3: a vendor restarts a trace it does not trust).
  The server span starts when the facts began, and the `authgate.facts` stage ends now.
* `stage(name, attributes)` ends the stage that began where the last one ended and
  starts the next there: stages are contiguous, one clock read each. The pipeline
  (`server/pipeline.py`) names `authgate.authenticate`, `authgate.adaptive`,
  `authgate.decide`, `authgate.limit`.
* `upstream(headers, target, method, path)` starts the `upstream` client span and
  writes *its* context into the upstream request's headers (`traceparent`, and
  `tracestate` when there is one): the upstream's server span is its child. Called
  once, where the forward is planned (`server/verdict.py`), for both front ends.
* `finish(exchange, route)` ends the upstream span (at `exchange.upstream_ended`
  when it ran) and the server span, named and attributed per the OpenTelemetry HTTP
  semantic conventions (docs/observability.md has the list).
* A trace the sampler dropped makes no stage or upstream spans at all; its context
  is still propagated (the upstream sees the trace and that it is not sampled).
* The query string, cookies, the user and headers other than `User-Agent` are never
  span attributes: a tracing backend is rarely guarded like the decision log.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from authgate.tracing.traceparent import format_traceparent, parse_traceparent

if TYPE_CHECKING:
    from multidict import CIMultiDict, CIMultiDictProxy
    from opentelemetry.trace import Span, Tracer

    from authgate.facts import RequestFacts
    from authgate.routing import Route
    from authgate.server.exchange import Exchange
    from authgate.server.state import UpstreamTarget
    from authgate.wire import Wire

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# semconv http.request.method: the known methods as they are; anything else "_OTHER"
# (its own text goes in http.request.method_original), which keeps span names few.
_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def remote_parent(headers: CIMultiDictProxy[str]) -> Context:
    """The context a trusted proxy's `traceparent`/`tracestate` describe (empty when
    it sent none, or one that must be ignored)."""
    parsed = parse_traceparent(headers.getall(TRACEPARENT, ()))
    if parsed is None:
        return Context()
    trace_id, parent_id, flags = parsed
    # §3.3.1: tracestate is read only beside a valid traceparent; several field
    # lines are one list (RFC 9110 §5.3).
    lines = headers.getall(TRACESTATE, ())
    state = TraceState.from_header(list(lines)) if lines else None
    parent = SpanContext(trace_id, parent_id, is_remote=True, trace_flags=TraceFlags(flags), trace_state=state)
    return trace.set_span_in_context(NonRecordingSpan(parent), Context())


def http_route(route: Route) -> str:
    """semconv http.route: the route's path pattern as configured (low cardinality)."""
    match = route.config.match
    return match.path_glob or match.path_prefix or match.path_regex or "/**"


class RequestTrace:
    """The spans of one request; `trace_id` (32 hex digits) goes in the record and logs."""

    __slots__ = ("_tracer", "_root", "_context", "_mark", "_offset", "_upstream", "recording", "trace_id")
    _root: Span

    def __init__(self, tracer: Tracer, wire: Wire, facts: RequestFacts) -> None:
        now = time.time_ns()
        # Wall clock = monotonic + offset: the exchange keeps monotonic marks.
        self._offset = now - time.monotonic_ns()
        began = int(facts.started * 1e9) + self._offset
        parent = remote_parent(wire.headers) if facts.peer_trusted else Context()
        # No attributes for the sampler (ours read none): an unsampled request builds none.
        name = _method_name(facts.method)
        root = self._root = tracer.start_span(name, parent, SpanKind.SERVER, start_time=began)
        self.recording = root.is_recording()
        if self.recording:
            root.set_attributes(_server_attributes(wire, facts))
        context = root.get_span_context()
        self._tracer = tracer
        self._context = trace.set_span_in_context(root, Context())
        self._upstream: Span | None = None
        self.trace_id = f"{context.trace_id:032x}"
        self._mark = began
        self.stage("authgate.facts")

    def stage(self, name: str, attributes: Mapping[str, str | int | bool] | None = None) -> None:
        """End the stage `name`, which began where the previous one ended."""
        now = time.time_ns()
        if self.recording:
            span = self._tracer.start_span(name, self._context, attributes=attributes, start_time=self._mark)
            span.end(now)
        self._mark = now

    def upstream(self, headers: CIMultiDict[str], target: UpstreamTarget, method: str, path: str) -> None:
        """Start the upstream span; its context goes upstream in `headers`."""
        span = self._root
        if self.recording:
            port = target.port or _DEFAULT_PORTS.get(target.scheme, 80)
            span = self._upstream = self._tracer.start_span(
                _method_name(method),
                self._context,
                SpanKind.CLIENT,
                {
                    "http.request.method": method if method in _KNOWN_METHODS else "_OTHER",
                    "server.address": target.host,
                    "server.port": port,
                    # Without the query: it can carry tokens (semconv: scrub it).
                    "url.full": f"{target.scheme}://{target.host}:{port}{path.partition('?')[0]}",
                    "network.protocol.version": "1.1",
                },
            )
        context = span.get_span_context()
        headers.popall(TRACEPARENT, None)
        headers.popall(TRACESTATE, None)
        headers[TRACEPARENT] = format_traceparent(context.trace_id, context.span_id, context.trace_flags)
        if context.trace_state:
            headers[TRACESTATE] = context.trace_state.to_header()

    def finish(self, exchange: Exchange, route: Route | None) -> None:
        """End the upstream span and the server span with what the client got."""
        if not self.recording:
            return
        now = time.time_ns()
        decision = exchange.decision
        upstream = self._upstream
        if upstream is not None:
            if exchange.upstream_status is not None:
                upstream.set_attribute("http.response.status_code", exchange.upstream_status)
            else:  # unreachable, timed out, shed or refused before it answered
                upstream.set_attribute("error.type", decision.reason)
                upstream.set_status(Status(StatusCode.ERROR, decision.reason))
            ended = exchange.upstream_ended
            upstream.end(int(ended * 1e9) + self._offset if ended else now)
        root = self._root
        status = exchange.status
        attributes: dict[str, str | int] = {
            "http.response.status_code": status,
            "authgate.decision": decision.outcome.value,
            "authgate.reason": decision.reason,
        }
        if decision.rule is not None:
            attributes["authgate.rule"] = decision.rule
        if route is not None:
            attributes["http.route"] = pattern = http_route(route)
            attributes["authgate.route"] = route.id
            root.update_name(f"{_method_name(exchange.facts.method)} {pattern}")
        if status >= 500:  # semconv: a server span is an error for 5xx only
            attributes["error.type"] = decision.reason
            root.set_status(Status(StatusCode.ERROR, decision.reason))
        root.set_attributes(attributes)
        root.end(now)


def _method_name(method: str) -> str:
    return method if method in _KNOWN_METHODS else "HTTP"


def _server_attributes(wire: Wire, facts: RequestFacts) -> dict[str, str | int]:
    method = facts.method if facts.method in _KNOWN_METHODS else "_OTHER"
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.scheme": facts.scheme,
        # The normalized path the policy matched on (the raw target when refused).
        "url.path": facts.path or facts.raw_target.partition("?")[0],
        "client.address": facts.client_ip,
        "network.peer.address": facts.peer_ip,
        "network.protocol.version": f"{wire.version[0]}.{wire.version[1]}",
        "authgate.request_id": facts.request_id,
    }
    if method == "_OTHER":
        attributes["http.request.method_original"] = facts.method
    if facts.host:
        attributes["server.address"] = facts.host
    if wire.listener_port is not None:
        attributes["server.port"] = wire.listener_port
    agent = wire.headers.get("User-Agent")
    if agent is not None:
        attributes["user_agent.original"] = agent
    return attributes
