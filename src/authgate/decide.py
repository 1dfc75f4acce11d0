"""decide(): facts, the route lookup, the identity and the signals become one `Decision`.

Contract: pure and synchronous — no I/O, no aiohttp. The ONE function the proxy,
forward-auth and `authgate explain` call. Default deny: no route is 404 (405 when only
the method is wrong); a routed request goes through `policy.authorize` (public paths,
accepted providers, the route's policy — deny wins, nothing allowed is denied —
step-up and consent). "Not logged in" is `login` (a redirect or a 401), never a 403
(STYLE.md lesson 2). Before the policy: a session store that could not be read is a
503 (a request that might have had a session is neither allowed nor sent to log in
again), and so is an opaque token its provider could not introspect; a bearer client
banned by `limits.regulation` is a 429 (`rate_limited`); after it, the route's risk
score may turn an allow into a step-up or a deny.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from authgate.decision import Decision, Outcome, Reason
from authgate.facts import RequestFacts
from authgate.identity import Identity
from authgate.outcomes import decided, error, refusal
from authgate.policy.authorize import authorize, policy_input, public_rule
from authgate.policy.compile import RoutePolicy
from authgate.routing import RouteLookup

_NOT_FOUND = {
    "host-unknown": Reason.HOST_UNKNOWN,
    "path-unknown": Reason.ROUTE_NOT_FOUND,
}


# A credential that could not be checked: a store or an introspection endpoint that
# did not answer. Fail closed with a 503 — neither allowed nor sent to log in again.
_UNAVAILABLE = frozenset({Reason.STORE_UNAVAILABLE, Reason.INTROSPECTION_UNAVAILABLE})


@dataclass(frozen=True, slots=True)
class Context:
    """What the adaptive checks found out about the request (all optional)."""

    country: str | None = None
    device: Mapping[str, Any] | None = None
    risk: float | None = None
    risk_outcome: str = "allow"  # allow | step_up | deny, from the route's thresholds
    # Entitlements held on the route -> grant id (routes whose policy names one only);
    # None: not read, or the grant store could not be read (fails closed).
    grants: Mapping[str, str] | None = None


NO_CONTEXT = Context()


def refuse_request(reason: Reason) -> Decision:
    """A request refused before routing (a bad host or path, or a connection-level
    refusal), no route; its status is `outcomes.STATUS`'s."""
    return refusal(reason)


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
    if failure in _UNAVAILABLE and public_rule(route, facts.path) is None:
        return error(failure, route_id=route.id)
    if failure is Reason.LOGIN_BANNED and public_rule(route, facts.path) is None:
        # A bearer client banned by limits.regulation: 429, as at the login endpoints —
        # a 401 would invite it to try another token at once.
        return decided(Outcome.RATE_LIMITED, failure, route_id=route.id)
    assert policy is not None  # every routed request is decided with its route's policy
    inp = policy_input(
        facts, identity, policy, country=context.country, device=context.device, risk=context.risk,
        grants=context.grants,
    )  # fmt: skip
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
        return refusal(Reason.METHOD_NOT_ALLOWED, extra=(allow,))
    return refusal(_NOT_FOUND.get(lookup.status, Reason.ROUTE_NOT_FOUND))
