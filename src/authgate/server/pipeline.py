"""The decision pipeline shared by the proxy and forward-auth: identity → decision.

Contract: `evaluate(wire, exchange, runtime, auth)` authenticates the request for its
route (skipped on public paths and when no route matches), gathers the adaptive
facts (geo, device, risk), decides, and stores identity, facts and decision on the
exchange; an allowed request updates the user's risk history. It never answers: the caller enforces —
the proxy forwards or answers, forward-auth answers 200/401/403 for another proxy.
Only fact extraction differs between the two modes (STYLE.md lesson 8). On a route
with `forward_overrides`, the request judged is the one its override headers describe
(`authgate.overrides`). When the request is traced, each stage ends its span here,
once for both front ends and forward-auth: `authgate.authenticate` (the route
lookup and the credential), `authgate.adaptive`, `authgate.decide`, `authgate.limit`
(allowed requests only) — `tracing/request.py`.
"""

from __future__ import annotations

from dataclasses import replace

from authgate.decide import decide
from authgate.decision import Decision, Reason
from authgate.facts import RequestFacts
from authgate.outcomes import refusal
from authgate.overrides import OverrideRejected, overridden
from authgate.policy.authorize import public_rule
from authgate.routing import Route, RouteLookup
from authgate.server.adaptive import gather_context, record_allowed
from authgate.server.auth_state import AuthRuntime
from authgate.server.authenticate import NOBODY, AuthResult, Target, authenticate
from authgate.server.exchange import Exchange
from authgate.server.grant_stage import grant_used, with_grants
from authgate.server.limit_stage import apply_limits
from authgate.server.state import ServerRuntime
from authgate.wire import Wire


async def evaluate(
    wire: Wire,
    exchange: Exchange,
    runtime: ServerRuntime,
    auth: AuthRuntime,
    *,
    authority: str | None = None,
) -> AuthResult:
    """Judge the request against its route with the snapshot pinned at its start
    (`runtime`) and the AuthRuntime built with that snapshot (`auth`). `authority`:
    the host[:port] the client addressed (forward-auth's forwarded one; default Host)."""
    lookup = runtime.snapshot.routes.match(
        exchange.facts.host, exchange.facts.path, exchange.facts.method
    )
    if lookup.route is not None and lookup.route.config.forward_overrides:
        retargeted = _apply_overrides(wire, exchange, lookup.route, runtime)
        if retargeted is None:
            return NOBODY
        lookup = retargeted
    facts, trace = exchange.facts, exchange.trace
    result = await _authenticate(wire, lookup.route, runtime, auth, facts, authority or wire.host)
    exchange.response_headers.update(result.response_headers)
    exchange.identity = result.identity
    exchange.session = result.session
    if trace is not None:
        trace.stage("authgate.authenticate", _credential(result))
    exchange.adaptive = await gather_context(
        wire, facts, result.identity, lookup.route, runtime, auth
    )
    if trace is not None:
        trace.stage("authgate.adaptive", _risk(exchange))
    policy = runtime.policies.get(lookup.route.id) if lookup.route else None
    if policy is not None and lookup.route is not None:
        exchange.adaptive = await with_grants(
            exchange.adaptive, result.identity, lookup.route.id, policy, auth, facts.time
        )
    context = exchange.adaptive.context
    exchange.decision = decide(facts, lookup, result.identity, result.failure, policy, context)
    exchange.grant = grant_used(exchange.decision, context)
    if result.reevaluated is not None:
        # The record says the session was re-evaluated before this decision, and what
        # changed (docs/continuous.md): `groups-ok,groups-changed`.
        decision = exchange.decision
        exchange.decision = replace(decision, reasons=(*decision.reasons, result.reevaluated))
    if trace is not None:
        trace.stage("authgate.decide", _decided(exchange.decision))
    if exchange.decision.allowed and lookup.route is not None:
        await apply_limits(wire, exchange, lookup.route, runtime, auth)
        if trace is not None:
            trace.stage("authgate.limit", {"authgate.limited": not exchange.decision.allowed})
    if exchange.decision.allowed:
        await record_allowed(auth, exchange.adaptive, facts.time)
    return result


def _credential(result: AuthResult) -> dict[str, str]:
    identity = result.identity
    return {"authgate.credential": identity.credential} if identity is not None else {}


def _risk(exchange: Exchange) -> dict[str, int]:
    assessment = exchange.adaptive.assessment
    return {"authgate.risk": assessment.score} if assessment is not None else {}


def _decided(decision: Decision) -> dict[str, str]:
    attributes = {"authgate.decision": decision.outcome.value, "authgate.reason": decision.reason}
    if decision.rule is not None:
        attributes["authgate.rule"] = decision.rule
    return attributes


def _apply_overrides(
    wire: Wire, exchange: Exchange, route: Route, runtime: ServerRuntime
) -> RouteLookup | None:
    """Judge the request the route's opted-in override headers describe (docs/headers.md).

    The exchange's facts become the overridden ones (the upstream gets exactly those,
    `forwarding`), and they are routed again: an override that leads to another route,
    or to none, is not this route's to let through. None when refused (decision set).
    """
    try:
        facts = overridden(exchange.facts, wire.headers, route.config.forward_overrides)
    except OverrideRejected:
        exchange.decision = _refused(route)
        return None
    exchange.facts = facts
    lookup = runtime.snapshot.routes.match(facts.host, facts.path, facts.method)
    if lookup.route is not None and lookup.route.id != route.id:
        exchange.decision = _refused(route)
        return None
    return lookup


def _refused(route: Route) -> Decision:
    return refusal(Reason.OVERRIDE_INVALID, route_id=route.id, rule="forward_overrides")


async def _authenticate(
    wire: Wire,
    route: Route | None,
    runtime: ServerRuntime,
    auth: AuthRuntime,
    facts: RequestFacts,
    authority: str,
) -> AuthResult:
    # Public paths skip authentication: no store read for anonymous traffic.
    if route is None or public_rule(route, facts.path) is not None:
        return NOBODY
    idle = runtime.policies[route.id].settings.session_idle_timeout
    # What a DPoP proof must name: the URL the client called (RFC 9449 §4.3).
    target = Target(facts.method, f"{facts.scheme}://{authority}{facts.path}")
    return await authenticate(
        wire,
        route,
        auth,
        runtime.snapshot.config,
        facts.scheme == "https",
        client_ip=facts.client_ip,
        route_idle_timeout=idle,
        target=target,
    )
