"""`judge`: what the gateway does with one proxied request — the one call both front
ends make (the aiohttp handler, `server/handler.py`, and the data plane of its own).

Contract: `judge(wire, exchange, runtime, auth, problem=...)` runs, in this order,
what follows the forward-auth branch: the refusal of a request the facts could not
route safely (`problem`) or that carries a credential twice (before anything reads
one: docs/headers.md, Envoy CVE-2021-32777); the gateway's own `/.authgate/`
endpoints on a routed host (`Endpoint`: served by the aiohttp front end, which has
the handlers); a bearer route's RFC 9728 metadata (`/.well-known/oauth-protected-resource...`,
an `Answer` here, so both front ends serve it without a hand-over:
`server/protected_resource.py`); then the pipeline (`pipeline.evaluate`) and its
enforcement as a value, a `Verdict`:

- `Answer`: the gateway's own answer (decision page or JSON, login redirect with
  its cookies, consent redirect, 413 for a declared body over the route's limit),
  fully built — `exchange.response_headers` and the hardening headers
  (`page_headers.secure_answer`) applied, `exchange.status` set — so a front end only
  serializes it (status, reason, headers, `response.cookies` as Set-Cookie, body).
  `Answer.closes`: the connection closes after it (the body was never read).
- `Forward`: the request goes upstream with exactly these headers and target.
  The front end passes the gate (`auth.guards.gates.gate(gate_key)`: when full, it
  answers `shed(...)`), counts the body against `max_body` as it streams, relays the
  response with `response_headers` added, and answers `upstream_failed(...)` for an
  unreachable (502) or slow (504) upstream — rendered exactly as the aiohttp one.
- `Upgrade`: an allowed WebSocket handshake (`proxy.handshake.wants_websocket`),
  with the `Forward` it would use; the aiohttp front end carries it out
  (`server/websockets.py` checks the handshake, the Origin and the caps).

The decision on the exchange is the one enforced; the caller writes the one record.
An exception out of `judge` is the gateway's bug: answer
`upstream_failed(..., Reason.GATEWAY_ERROR)` (500), as the aiohttp handler does.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from authgate.conn.refusals import BodyRefused
from authgate.decision import Outcome, Reason
from authgate.outcomes import refusal
from authgate.proxy.handshake import wants_websocket
from authgate.ratelimit.headers import retry_after
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.resource.challenge import BearerChallenge
from authgate.resource.identifier import is_metadata_path
from authgate.routing import Route
from authgate.server.answers import consent_response, decision_response, login_response
from authgate.server.auth_state import AuthRuntime
from authgate.server.authenticate import AuthResult, duplicated_credential
from authgate.server.body_limit import body_limit, body_refused_response, declared_too_large
from authgate.server.cookies import clear_session_cookie
from authgate.server.endpoints import PREFIX
from authgate.server.exchange import Exchange
from authgate.server.forward_plan import upstream_headers, upstream_target_path
from authgate.server.page_headers import secure_answer
from authgate.server.pipeline import evaluate
from authgate.server.protected_resource import protected_resource, scope_challenge
from authgate.server.state import ServerRuntime, UpstreamTarget
from authgate.wire import Wire

@dataclass(frozen=True, slots=True)
class Answer:
    """The gateway's own answer, ready to serialize."""

    response: web.Response

    @property
    def closes(self) -> bool:
        """The connection must close after this answer (`force_close`)."""
        return self.response.keep_alive is False


@dataclass(frozen=True, slots=True)
class Forward:
    """An allowed request, as it goes upstream."""

    route: Route
    target: UpstreamTarget
    target_path: str  # base path + normalized path (+ "?" + query), as sent upstream
    headers: CIMultiDict[str]  # the upstream request's headers, Host and forwarding included
    response_headers: dict[str, str]  # X-Request-Id + exchange.response_headers, on the answer
    gate_key: str  # the upstream's in-flight gate: f"{target.host}:{target.port}"
    max_body: int  # the route's body limit (a chunked body is counted as it streams)


@dataclass(frozen=True, slots=True)
class Upgrade:
    """An allowed WebSocket handshake: carried out by the aiohttp front end."""

    forward: Forward
    result: AuthResult  # who: the Origin check and the per-user caps read it


@dataclass(frozen=True, slots=True)
class Endpoint:
    """`/.authgate/*` on a routed host: the gateway's own endpoints (aiohttp front end)."""


ENDPOINT = Endpoint()
Verdict = Forward | Answer | Upgrade | Endpoint


async def judge(
    wire: Wire,
    exchange: Exchange,
    runtime: ServerRuntime,
    auth: AuthRuntime,
    *,
    problem: Reason | None,
) -> Verdict:
    """`problem` is the refusal `gather_facts` returned with the exchange's facts."""
    facts = exchange.facts
    secure = facts.scheme == "https"
    if problem is None and duplicated_credential(wire, runtime.snapshot.config, secure):
        # Before any validation, on every route (docs/headers.md; Envoy CVE-2021-32777).
        problem = Reason.DUPLICATE_CREDENTIALS
    if problem is not None:
        exchange.decision = refusal(problem)
        return answer(exchange, runtime, decision_response(wire, runtime.pages, exchange.decision, facts))
    if facts.path.startswith(PREFIX) and runtime.snapshot.routes.serves_host(facts.host):
        return ENDPOINT
    if is_metadata_path(facts.path):
        metadata = await protected_resource(wire, exchange, runtime, auth)
        if metadata is not None:
            return answer(exchange, runtime, metadata)
    result = await evaluate(wire, exchange, runtime, auth)
    if exchange.decision.allowed:
        return _forward(wire, exchange, result, runtime, auth)
    return answer(exchange, runtime, _refusal(wire, exchange, result, runtime, auth))


def _forward(
    wire: Wire, exchange: Exchange, result: AuthResult, runtime: ServerRuntime, auth: AuthRuntime
) -> Forward | Upgrade | Answer:
    facts = exchange.facts
    assert exchange.decision.route_id is not None  # an allow always names its route
    route = runtime.snapshot.routes.by_id(exchange.decision.route_id)
    target = runtime.upstreams[route.id]
    limit = body_limit(route, runtime)
    if declared_too_large(wire, limit):  # 413 before the upstream sees any of it
        return body_refused(wire, exchange, runtime, BodyRefused(Reason.BODY_TOO_LARGE))
    target_path = upstream_target_path(target, facts)
    headers = upstream_headers(wire, exchange, route, result, auth, runtime)
    if exchange.trace is not None:  # the upstream span starts; its traceparent goes up
        exchange.trace.upstream(headers, target, wire.method, target_path)
    plan = Forward(
        route=route,
        target=target,
        target_path=target_path,
        headers=headers,
        response_headers={REQUEST_ID_HEADER: facts.request_id, **exchange.response_headers},
        gate_key=f"{target.host}:{target.port}",
        max_body=limit,
    )
    if wants_websocket(wire.method, wire.headers):
        return Upgrade(plan, result)
    return plan


def _refusal(
    wire: Wire, exchange: Exchange, result: AuthResult, runtime: ServerRuntime, auth: AuthRuntime
) -> web.Response:
    decision, facts, pages = exchange.decision, exchange.facts, runtime.pages
    if decision.outcome in (Outcome.LOGIN, Outcome.STEP_UP):
        assert decision.route_id is not None  # a login decision always names its route
        route = runtime.snapshot.routes.by_id(decision.route_id)
        bearer = BearerChallenge.of(route, facts.scheme, wire.host)
        response = login_response(wire, pages, facts, decision, route.config.authenticate, bearer)
        if result.stale_cookie:  # a bad or ended session cookie: the browser drops it
            secure = facts.scheme == "https"
            clear_session_cookie(response, runtime.snapshot.config.sessions, secure)
        return response
    if Reason.CONSENT_REQUIRED in decision.reasons:
        return consent_response(wire, pages, facts, decision)
    identity = exchange.identity
    if identity is None:
        return decision_response(wire, pages, decision, facts)
    session_id = identity.session_id if identity.credential == "session" else None
    signed_in = (session_id, auth.keys) if session_id is not None else None
    response = decision_response(wire, pages, decision, facts, identity.user, signed_in)
    if identity.credential == "bearer":
        scope_challenge(response, wire, facts, runtime, decision)
    return response


def answer(exchange: Exchange, runtime: ServerRuntime, response: web.Response) -> Answer:
    """Finish an answer of the gateway's own: the exchange's headers, the hardening."""
    response.headers.update(exchange.response_headers)
    secure_answer(response.headers, runtime.pages.content_security_policy)
    exchange.status = response.status
    return Answer(response)


def body_refused(wire: Wire, exchange: Exchange, runtime: ServerRuntime, refused: BodyRefused) -> Answer:
    """A body refused (413 too large, 408 too slow): the connection closes after it."""
    return answer(exchange, runtime, body_refused_response(wire, runtime.pages, exchange, refused))


def shed(wire: Wire, exchange: Exchange, runtime: ServerRuntime) -> Answer:
    """Past the upstream's in-flight cap: 503 at once, never a queue without bound."""
    limits = runtime.snapshot.config.limits
    exchange.response_headers["Retry-After"] = retry_after(limits.shed_retry_after)
    return upstream_failed(wire, exchange, runtime, Reason.UPSTREAM_OVERLOADED)


def upstream_failed(
    wire: Wire, exchange: Exchange, runtime: ServerRuntime, reason: Reason, status: int | None = None
) -> Answer:
    """The upstream (or the gateway) failed before an answer started: 502/503/504/500,
    the status `outcomes.STATUS` gives `reason` unless `status` says otherwise."""
    decision = exchange.fail(reason, status)
    return answer(exchange, runtime, decision_response(wire, runtime.pages, decision, exchange.facts))
