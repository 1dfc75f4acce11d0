"""decide(): facts, the route lookup, the identity and the signals become one `Decision`.

Contract: pure and synchronous — no I/O, no aiohttp. The ONE function the proxy,
forward-auth and `authgate explain` call. Default deny: no route is 404 (405 when only
the method is wrong); a routed request goes through `policy.authorize` (public paths,
accepted providers, the route's policy — deny wins, nothing allowed is denied —
step-up and consent). "Not logged in" is `login` (a redirect or a 401), never a 403
(STYLE.md lesson 2). Before the policy: a session store that could not be read is a
503 (a request that might have had a session is neither allowed nor sent to log in
again); after it, the route's risk score may turn an allow into a step-up or a deny.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from authgate.decision import Decision, Outcome, Reason
from authgate.facts import RequestFacts
from authgate.identity import Identity
from authgate.policy.authorize import authorize, policy_input, public_rule
from authgate.policy.compile import RoutePolicy
from authgate.routing import RouteLookup

_NOT_FOUND = {
    "host-unknown": Reason.HOST_UNKNOWN,
    "path-unknown": Reason.ROUTE_NOT_FOUND,
}


@dataclass(frozen=True, slots=True)
class Context:
    """What the adaptive checks found out about the request (all optional)."""

    country: str | None = None
    device: Mapping[str, Any] | None = None
    risk: float | None = None
    risk_outcome: str = "allow"  # allow | step_up | deny, from the route's thresholds


NO_CONTEXT = Context()


# Refusals before routing that are not a plain 400 (the connection level, authgate.conn).
_REFUSAL_STATUS = {
    Reason.HEADER_TIMEOUT: 408,  # RFC 9110 §15.5.9
    Reason.BODY_TIMEOUT: 408,
    Reason.BODY_TOO_SLOW: 408,
    Reason.BODY_TOO_LARGE: 413,  # RFC 9110 §15.5.14
    Reason.URI_TOO_LONG: 414,  # RFC 9110 §15.5.15
    Reason.HEADERS_TOO_LARGE: 431,  # RFC 6585 §5
    Reason.METHOD_NOT_ALLOWED: 405,  # CONNECT (RFC 9110 §9.3.6)
    Reason.METHOD_NOT_IMPLEMENTED: 501,  # RFC 9110 §9.1
    Reason.TRANSFER_CODING_UNSUPPORTED: 501,  # RFC 9112 §6.1
    Reason.CONNECTIONS_EXCEEDED: 503,
    Reason.VERSION_NOT_SUPPORTED: 505,  # RFC 9110 §15.6.6
}


def refuse_request(reason: Reason) -> Decision:
    """A request refused before routing (bad host or path: 400, or a connection-level
    refusal with its own status), no route."""
    return Decision(Outcome.DENY, (reason,), status=_REFUSAL_STATUS.get(reason, 400))


def decide(
    facts: RequestFacts,
    lookup: RouteLookup,
    identity: Identity | None = None,
    failure: Reason | None = None,
    policy: RoutePolicy | None = None,
    context: Context = NO_CONTEXT,
) -> Decision:
    route = lookup.route
    if route is None:
        return _no_route(lookup)
    if failure is Reason.STORE_UNAVAILABLE and public_rule(route, facts.path) is None:
        return Decision(Outcome.ERROR, (failure,), route_id=route.id, status=503)
    assert policy is not None  # every routed request is decided with its route's policy
    inp = policy_input(
        facts, identity, policy, country=context.country, device=context.device, risk=context.risk
    )
    decision = authorize(route, policy, inp)
    if decision.outcome is Outcome.LOGIN and failure is not None:
        # A credential was there and did not count: say why (token-expired,
        # session-invalid, ...) in place of "nobody came" (user-unauthenticated).
        rest = tuple(r for r in decision.reasons if r is not Reason.USER_UNAUTHENTICATED)
        return replace(decision, reasons=(failure, *rest))
    if decision.allowed and decision.reasons != (Reason.ROUTE_PUBLIC,):
        return _risk_checked(decision, context)
    return decision


def _risk_checked(decision: Decision, context: Context) -> Decision:
    if context.risk_outcome == "deny":
        return replace(decision, outcome=Outcome.DENY, reasons=(Reason.RISK_DENY,), status=403)
    if context.risk_outcome == "step_up":
        return replace(
            decision, outcome=Outcome.STEP_UP, reasons=(Reason.RISK_STEP_UP,), status=401,
            extra=(("max_age", "0"),),
        )
    return decision


def _no_route(lookup: RouteLookup) -> Decision:
    if lookup.status == "method-not-allowed":
        allow = ("allow", ", ".join(sorted(lookup.allow)))
        return Decision(Outcome.DENY, (Reason.METHOD_NOT_ALLOWED,), status=405, extra=(allow,))
    reason = _NOT_FOUND.get(lookup.status, Reason.ROUTE_NOT_FOUND)
    return Decision(Outcome.DENY, (reason,), status=404)
