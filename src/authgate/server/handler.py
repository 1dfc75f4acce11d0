"""The request handler: facts → decision → enforce → record, as explicit steps.

Contract: every request leaves exactly one decision record, whatever happens —
refusal, upstream failure, client disconnect or a bug (the `finally` below). The
decision object that is enforced is the one that is logged. No exception text
reaches the client: failures render through `answers.error_response`.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from aiohttp import web
from yarl import URL

from authgate.decide import decide, refuse_request
from authgate.decision import Decision, Outcome, Reason
from authgate.decisionlog import DecisionRecord
from authgate.facts import RequestFacts
from authgate.proxy.forward import UpstreamError, forward_http, upstream_request_headers
from authgate.proxy.headers import set_forwarding
from authgate.proxy.websocket import is_websocket_upgrade, relay_websocket
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.server.answers import error_response
from authgate.server.facts import gather_facts
from authgate.server.state import CLIENT, DECISION_LOG, RUNTIME, ServerRuntime

log = logging.getLogger(__name__)


async def handle(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]  # read once: the whole request uses this snapshot
    facts, problem = gather_facts(request, runtime)
    decision = _decide(facts, problem, runtime)
    status, upstream_status = decision.status, None
    upstream_started = upstream_ended = 0.0
    try:
        if decision.allowed:
            upstream_started = time.monotonic()
            try:
                response, upstream_status = await _forward(request, facts, decision, runtime)
                status = response.status
                return response
            except UpstreamError as failure:
                decision = _failed(decision, failure.reason, failure.status)
            finally:
                upstream_ended = time.monotonic()
        response = _answer(request, facts, decision)
        status = response.status
        return response
    except Exception:
        log.exception("request %s failed inside the gateway", facts.request_id)
        decision = _failed(decision, Reason.GATEWAY_ERROR, 500)
        status = 500
        return _answer(request, facts, decision)
    finally:
        _record(request, facts, decision, status, upstream_status, upstream_ended - upstream_started)


def _decide(facts: RequestFacts, problem: Reason | None, runtime: ServerRuntime) -> Decision:
    if problem is not None:
        return refuse_request(problem)
    lookup = runtime.snapshot.routes.match(facts.host, facts.path, facts.method)
    return decide(facts, lookup)


def _failed(decision: Decision, reason: Reason, status: int) -> Decision:
    return dataclasses.replace(decision, outcome=Outcome.ERROR, reasons=(reason,), status=status)


async def _forward(
    request: web.Request, facts: RequestFacts, decision: Decision, runtime: ServerRuntime
) -> tuple[web.StreamResponse, int]:
    assert decision.route_id is not None  # an allow always names its route
    route = runtime.snapshot.routes.by_id(decision.route_id)
    target = runtime.upstreams[route.id]
    host_header = request.headers.get("Host") if route.preserve_host else None
    headers = upstream_request_headers(request, host_header)
    set_forwarding(
        headers,
        request.headers,
        peer=facts.peer_ip,
        peer_trusted=facts.peer_trusted,
        proto=facts.scheme,
        host=request.headers.get("Host", facts.host),
    )
    headers[REQUEST_ID_HEADER] = facts.request_id
    # The upstream gets the normalized path: the same bytes the policy matched on.
    url = URL.build(
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        path=target.base_path + facts.path,
        query_string=facts.query,
        encoded=True,
    )
    client = request.app[CLIENT]
    extra = {REQUEST_ID_HEADER: facts.request_id}
    if is_websocket_upgrade(request):
        return await relay_websocket(request, client, url, headers, target.timeout, extra)
    return await forward_http(request, client, url, headers, target.timeout, extra)


def _answer(request: web.Request, facts: RequestFacts, decision: Decision) -> web.Response:
    response = error_response(
        decision.status, decision.reason, facts.request_id, request.headers.get("Accept", "")
    )
    for name, value in decision.extra:
        if name == "allow":  # RFC 9110 §15.5.6: a 405 lists what the route accepts
            response.headers["Allow"] = value
    return response


def _record(
    request: web.Request,
    facts: RequestFacts,
    decision: Decision,
    status: int,
    upstream_status: int | None,
    upstream_seconds: float,
) -> None:
    durations = [("total", time.monotonic() - facts.started)]
    if upstream_status is not None or upstream_seconds > 0:
        durations.append(("upstream", upstream_seconds))
    record = DecisionRecord.from_decision(
        decision,
        time=facts.time,
        request_id=facts.request_id,
        method=facts.method,
        host=facts.host,
        path=facts.path or facts.raw_target,
        client_ip=facts.client_ip,
        status=status,
        upstream_status=upstream_status,
        durations=tuple(durations),
    )
    request.app[DECISION_LOG].submit(record)
