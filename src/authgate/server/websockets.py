"""Forward a WebSocket upgrade: every guard runs before the upstream is contacted.

Contract: `forward_websocket(request, exchange, auth, route, outbound, runtime)` is the
WebSocket half of `forwarding.forward`, for an allowed request that asks for a
WebSocket (`proxy.handshake.wants_websocket`). In this order:

1. the handshake is well-formed (RFC 6455 §4.2.1) — else 400, with
   `Sec-WebSocket-Version: 13` when another version was asked for (§4.4);
2. the `Origin` is the route's own (the scheme and `Host` the client used) or one
   the route lists (Cross-Site WebSocket Hijacking) — else 403; a missing `Origin`
   only on a route with `allow_missing_origin` or with a bearer token;
3. a place is free under the route's, the user's and the client IP's caps — else
   429 (the user's or the address's own cap) or 503 + Retry-After (the route's);
4. the upstream handshake, on the WebSocket session (`WS_CLIENT`, its own
   connector), so a tunnel never holds a connection of the HTTP pool — else
   502/504. Tunnels are not counted by the upstream's in-flight gate either: they
   have the caps of step 3;
5. the relay; a close with 1009 adds `websocket-message-too-big` to the record. A
   WebSocket of a session follows it (`continuous.connections`): when the session
   ends, or no longer passes the route's policy, the gateway closes both sides with
   1008 and the reason, and the record ends with that decision.

Each refusal replaces the exchange's decision, so it is what gets recorded, and is
rendered by `answers` with the request id. The connection is closed after it: a
client that sent `Connection: Upgrade` may already be sending frames.
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import aiohttp
from aiohttp import WSCloseCode, web
from multidict import CIMultiDict
from yarl import URL

from authgate.config.schema_websocket import WebSocketLimitsConfig
from authgate.decision import Outcome, Reason
from authgate.identity import Identity
from authgate.ops.drain import LIVE_WEBSOCKETS
from authgate.origins import check_origin, parse_origin
from authgate.outcomes import Place, status
from authgate.proxy.forward import UpstreamError
from authgate.proxy.handshake import VERSION, handshake_problem
from authgate.proxy.websocket import (
    MESSAGE_TOO_BIG,
    Closer,
    connect_upstream,
    relay_websocket,
    requested_protocols,
)
from authgate.ratelimit.headers import retry_after
from authgate.ratelimit.websocket_caps import Cap, CapReached, Claim, claims_for
from authgate.routing import Route
from authgate.server.answers import decision_response
from authgate.server.authenticate import AuthResult
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.following import following
from authgate.server.state import LIVE_SESSIONS, WS_CLIENT, ServerRuntime


# RFC 6455 §7.4.1: "an endpoint is terminating the connection because it has received
# a message that violates its policy" — the nearest code for "no longer allowed".
POLICY_VIOLATION = WSCloseCode.POLICY_VIOLATION


class Outbound(NamedTuple):
    """Where the upgrade goes and with what, as `forwarding` prepared it."""

    url: URL
    headers: CIMultiDict[str]
    timeout: aiohttp.ClientTimeout
    response_headers: dict[str, str]


async def forward_websocket(
    request: web.Request,
    exchange: Exchange,
    auth: AuthResult,
    route: Route,
    outbound: Outbound,
    runtime: ServerRuntime,
) -> web.StreamResponse:
    refused = _refuse_handshake(request, exchange, runtime) or _refuse_origin(
        request, exchange, route, auth.identity, runtime
    )
    if refused is not None:
        return refused
    limits = runtime.snapshot.config.limits  # the request's snapshot, read once
    live = request.app[LIVE_WEBSOCKETS]
    try:
        with live.caps.hold(_claims(exchange, route, auth.identity, limits.websockets)):
            return await _relay(request, exchange, route, outbound, runtime)
    except CapReached as full:
        return _refuse_cap(request, exchange, route, full.claim, limits.shed_retry_after, runtime)


def _refuse_handshake(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime
) -> web.Response | None:
    problem = handshake_problem(request.version, request.headers)
    if problem is None:
        return None
    if problem is Reason.WEBSOCKET_VERSION_UNSUPPORTED:
        # RFC 6455 §4.4: name the versions we speak, so the client can retry with one.
        exchange.response_headers["Sec-WebSocket-Version"] = VERSION
    return _refuse(request, exchange, runtime, Outcome.DENY, problem, rule=None)


def _refuse_origin(
    request: web.Request,
    exchange: Exchange,
    route: Route,
    identity: Identity | None,
    runtime: ServerRuntime,
) -> web.Response | None:
    settings = route.config.websocket
    # CSWSH (CWE-1385): a browser sends its cookies on a cross-site WebSocket
    # handshake, and CORS does not apply to it; the Origin is the only tell. A
    # handshake without one is not a browser's (RFC 6455 §4.1 item 8): allowed where
    # the route says so, or with a bearer token, which no page can make a browser
    # send on its own.
    facts = exchange.facts
    problem = check_origin(
        request.headers.getall("Origin", ()),
        own=parse_origin(f"{facts.scheme}://{request.headers.get('Host', '')}"),
        allowed=[origin for origin in map(parse_origin, settings.origins) if origin],
        missing_ok=settings.allow_missing_origin
        or (identity is not None and identity.credential == "bearer"),
    )
    if problem is not None:
        rule = f"routes[{route.id}].websocket.origins"
        return _refuse(request, exchange, runtime, Outcome.DENY, problem, rule=rule)
    return None


def _claims(
    exchange: Exchange, route: Route, identity: Identity | None, limits: WebSocketLimitsConfig
) -> tuple[Claim, ...]:
    return claims_for(
        route.id,
        route.config.websocket.max_connections,
        f"{identity.provider}:{identity.subject}" if identity is not None else None,
        limits.max_per_user,
        exchange.facts.client_ip,
        limits.max_per_client_ip,
    )


_CAP_RULES = {
    Cap.USER: "limits.websockets.max_per_user",
    Cap.CLIENT_IP: "limits.websockets.max_per_client_ip",
}


def _refuse_cap(
    request: web.Request,
    exchange: Exchange,
    route: Route,
    claim: Claim,
    wait: float,
    runtime: ServerRuntime,
) -> web.Response:
    if claim.cap is Cap.ROUTE:
        # The route is full, not this client greedy: 503, try again later (RFC 9110
        # §15.6.4), like a shed request.
        exchange.response_headers["Retry-After"] = retry_after(wait)
        rule = f"routes[{route.id}].websocket.max_connections"
        return _refuse(
            request, exchange, runtime, Outcome.RATE_LIMITED, Reason.WEBSOCKET_LIMIT, rule,
            place=Place.WEBSOCKET_ROUTE_FULL,
        )
    # This user or address holds its share already: 429 (RFC 6585 §4).
    rule = _CAP_RULES[claim.cap]
    return _refuse(request, exchange, runtime, Outcome.RATE_LIMITED, Reason.WEBSOCKET_LIMIT, rule)


def _refuse(
    request: web.Request,
    exchange: Exchange,
    runtime: ServerRuntime,
    outcome: Outcome,
    reason: Reason,
    rule: str | None,
    place: Place | None = None,
) -> web.Response:
    exchange.decision = dataclasses.replace(
        exchange.decision, outcome=outcome, reasons=(reason,), status=status(reason, place), rule=rule
    )
    response = decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)
    response.force_close()
    return response


async def _relay(
    request: web.Request, exchange: Exchange, route: Route, outbound: Outbound, runtime: ServerRuntime
) -> web.StreamResponse:
    max_message = route.config.websocket.max_message
    exchange.upstream_started = time.monotonic()
    try:
        upstream = await connect_upstream(
            request.app[WS_CLIENT],
            outbound.url,
            outbound.headers,
            requested_protocols(request),
            max_message,
            outbound.timeout,
        )
        exchange.upstream_status = 101
        live = request.app[LIVE_WEBSOCKETS]
        closer = Closer()
        cut = lambda decision: closer.close(POLICY_VIOLATION, decision.reason)  # noqa: E731
        with following(request.app[LIVE_SESSIONS], exchange, route.id, cut):
            response, code = await relay_websocket(
                request, upstream, outbound.response_headers, max_message, live, closer
            )
    except UpstreamError as failure:
        return decision_response(wire_of(request), runtime.pages, exchange.fail(failure.reason, failure.status), exchange.facts)
    finally:
        exchange.upstream_ended = time.monotonic()
    if code == MESSAGE_TOO_BIG:
        # Recorded: the connection was allowed, then a message was refused.
        decision = exchange.decision
        reasons = decision.reasons + (Reason.WEBSOCKET_MESSAGE_TOO_BIG,)
        exchange.decision = dataclasses.replace(decision, reasons=reasons)
    return response
