"""Enforce an `allow`: mutate the headers, then forward upstream (HTTP or WebSocket).

Contract: the mutator runs on every forwarded request, identity or not — incoming
identity, forwarding and override headers (`authgate.mutate.spoofed`, every spelling)
are stripped even on public paths, so a client can never present its own
`X-Authgate-User` or `X-Forwarded-User` to an upstream; the names stripped go in the
decision record (`stripped`). Then the forwarding headers are rebuilt, the route's
opted-in overrides are set to what was evaluated, and the identity headers are set.
`Authorization` reaches the upstream only as the gateway validated it (a bearer
token), on public paths as sent, or where the route sets `pass_authorization`:
a session-authenticated request's `Authorization` was never checked by anyone.
Upstream failures replace the exchange's decision with an error (502/504) rendered
as a page or JSON (see docs/headers.md). A WebSocket upgrade goes to
`server/websockets.py`, which checks the handshake, the Origin and the caps before
contacting the upstream.
"""

from __future__ import annotations

import time
from functools import lru_cache

from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from authgate.decision import Reason
from authgate.facts import RequestFacts
from authgate.mutate.identity_headers import identity_headers, strip_cookie
from authgate.mutate.spoofed import TRUSTED_FORWARDING, route_strip_set, strip
from authgate.overrides import rewrite
from authgate.proxy.forward import UpstreamError, forward_http, upstream_request_headers
from authgate.proxy.headers import set_forwarding
from authgate.proxy.handshake import wants_websocket
from authgate.ratelimit.headers import retry_after
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.routing import Route
from authgate.server.answers import decision_response
from authgate.server.auth_state import AuthRuntime, auth_of
from authgate.server.authenticate import AuthResult
from authgate.server.body_limit import limit_body
from authgate.server.cookies import gateway_cookies
from authgate.server.exchange import Exchange
from authgate.server.state import CLIENT, ServerRuntime, UpstreamTarget
from authgate.server.websockets import Outbound, forward_websocket


async def forward(
    request: web.Request, exchange: Exchange, auth: AuthResult, runtime: ServerRuntime
) -> web.StreamResponse:
    facts = exchange.facts
    assert exchange.decision.route_id is not None  # an allow always names its route
    route = runtime.snapshot.routes.by_id(exchange.decision.route_id)
    target = runtime.upstreams[route.id]
    limit_body(request, route, runtime)  # 413 before the upstream sees any of it
    headers = _upstream_headers(request, exchange, route, auth, auth_of(request), runtime)
    url = _upstream_url(target, facts)
    extra = {REQUEST_ID_HEADER: facts.request_id, **exchange.response_headers}
    if wants_websocket(request.method, request.headers):
        outbound = Outbound(url, headers, target.timeout, extra)
        return await forward_websocket(request, exchange, auth, route, outbound, runtime)
    gate = auth_of(request).guards.gates.gate(f"{target.host}:{target.port}")
    if not gate.try_enter():
        return _shed(request, exchange, runtime)
    exchange.upstream_started = time.monotonic()
    try:
        response, exchange.upstream_status = await forward_http(
            request, request.app[CLIENT], url, headers, target.timeout, extra
        )
        return response
    except UpstreamError as failure:
        return decision_response(request, exchange.fail(failure.reason, failure.status), facts)
    finally:
        gate.leave()
        exchange.upstream_ended = time.monotonic()


def _shed(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.Response:
    """Past the upstream's in-flight cap: 503 at once, never a queue without bound."""
    limits = runtime.snapshot.config.limits
    exchange.response_headers["Retry-After"] = retry_after(limits.shed_retry_after)
    return decision_response(
        request, exchange.fail(Reason.UPSTREAM_OVERLOADED, 503), exchange.facts
    )


def _upstream_url(target: UpstreamTarget, facts: RequestFacts) -> URL:
    # The upstream gets the normalized path: the same bytes the policy matched on.
    return URL.build(
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        path=target.base_path + facts.path,
        query_string=facts.query,
        encoded=True,
    )


def _upstream_headers(
    request: web.Request,
    exchange: Exchange,
    route: Route,
    auth: AuthResult,
    gateway: AuthRuntime,
    runtime: ServerRuntime,
) -> CIMultiDict[str]:
    facts = exchange.facts
    host_header = request.headers.get("Host") if route.preserve_host else None
    headers = upstream_request_headers(request, host_header)
    strip_set = route_strip_set(
        tuple(runtime.snapshot.config.server.strip_headers), gateway.templates[route.id].names
    )
    stripped = strip(headers, strip_set, _kept(route, facts.peer_trusted))
    stripped += _authorization(headers, route, auth)
    set_forwarding(
        headers,
        request.headers,
        peer=facts.peer_ip,
        peer_trusted=facts.peer_trusted,
        proto=facts.scheme,
        host=request.headers.get("Host", facts.host),
        port=_listener_port(request),
    )
    rewrite(headers, facts, route.config.forward_overrides)
    headers[REQUEST_ID_HEADER] = facts.request_id
    sessions = runtime.snapshot.config.sessions
    strip_cookie(headers, *gateway_cookies(sessions, facts.scheme == "https"))
    if auth.identity is not None:
        exchange.headers_dropped = add_identity(headers, facts, route, auth, gateway)
    exchange.stripped = stripped
    return headers


@lru_cache(maxsize=1024)
def _kept_names(overrides: tuple[str, ...], peer_trusted: bool) -> frozenset[str]:
    trusted = TRUSTED_FORWARDING if peer_trusted else frozenset()
    return trusted | {name.lower() for name in overrides}


def _kept(route: Route, peer_trusted: bool) -> frozenset[str]:
    """Canonical names that survive the strip: a trusted proxy's chain, opted-in overrides."""
    return _kept_names(tuple(route.config.forward_overrides), peer_trusted)


def _authorization(headers: CIMultiDict[str], route: Route, auth: AuthResult) -> tuple[str, ...]:
    """Only a credential the gateway validated reaches the upstream (Pomerium CVE-2021-39206)."""
    if auth.authorization is not None:
        headers.popall("Authorization", None)
        headers["Authorization"] = auth.authorization
        return ()
    # No identity on an allowed request: a public path, where the upstream does its
    # own authentication and the gateway checked nothing it could vouch for.
    if auth.identity is None or route.config.pass_authorization:
        return ()
    if headers.popall("Authorization", None) is None:
        return ()
    return ("authorization",)


def _listener_port(request: web.Request) -> int | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if isinstance(sockname, tuple) and len(sockname) >= 2 else None


def add_identity(
    headers: CIMultiDict[str],
    facts: RequestFacts,
    route: Route,
    auth: AuthResult,
    gateway: AuthRuntime,
    *,
    forward_auth: bool = False,
) -> tuple[str, ...]:
    """Set the identity headers; return the names the route's header budget dropped."""
    identity = auth.identity
    assert identity is not None
    assertion = None
    if gateway.signer is not None:
        assertion = gateway.signer.sign(
            identity,
            audience=route.id,
            now=facts.time,
            ttl=route.config.assertion_ttl,
            request_id=facts.request_id,
        )
    access_token = None
    if route.config.pass_access_token and auth.session is not None:
        access_token = auth.session.tokens.access_token
    # The assertion above is signed from the whole identity; the plain headers show
    # the groups the route lets through, within its size budget (mutate/header_budget).
    budget = gateway.header_budgets[route.id]
    pairs = identity_headers(
        budget.shown(identity),
        gateway.templates[route.id],
        assertion=assertion,
        access_token=access_token,
        forward_auth=forward_auth,
    )
    kept, dropped = budget.fit(pairs)
    for name, value in kept:
        headers[name] = value
    return dropped
