"""decide(): facts, the route lookup and the identity become one `Decision`.

Contract: pure and synchronous — no I/O, no aiohttp. Default deny: a request is
allowed only when a route matches and a rule of that route allows it. The rules
today: a route's `public` paths allow anyone; every other path allows an
authenticated identity from a provider the route accepts (per-route policies come
with the policy issue). "Not logged in" is `login` (a redirect or a 401), never a
403 (STYLE.md lesson 2).
"""

from __future__ import annotations

from authgate.decision import Decision, Outcome, Reason
from authgate.facts import RequestFacts
from authgate.identity import Identity
from authgate.routing import Route, RouteLookup

_NOT_FOUND = {
    "host-unknown": Reason.HOST_UNKNOWN,
    "path-unknown": Reason.ROUTE_NOT_FOUND,
}


def refuse_request(reason: Reason) -> Decision:
    """A request refused before routing (bad host or path): 400, no route."""
    return Decision(Outcome.DENY, (reason,), status=400)


def public_rule(route: Route, path: str) -> str | None:
    """The rule naming the first public pattern that covers `path`, if any."""
    for index, pattern in enumerate(route.public):
        if pattern.matches(path):
            return f"routes[{route.id}].public[{index}]"
    return None


def decide(
    facts: RequestFacts,
    lookup: RouteLookup,
    identity: Identity | None = None,
    failure: Reason | None = None,
) -> Decision:
    route = lookup.route
    if route is None:
        return _no_route(lookup)
    rule = public_rule(route, facts.path)
    if rule is not None:
        return Decision(Outcome.ALLOW, (Reason.ROUTE_PUBLIC,), route_id=route.id, rule=rule)
    if failure is Reason.STORE_UNAVAILABLE:
        return Decision(Outcome.ERROR, (failure,), route_id=route.id, status=503)
    if identity is None:
        reasons = (Reason.USER_UNAUTHENTICATED,) + ((failure,) if failure else ())
        return Decision(Outcome.LOGIN, reasons, route_id=route.id, status=401)
    accepted = route.config.providers
    if accepted is not None and identity.provider not in accepted:
        return Decision(Outcome.LOGIN, (Reason.PROVIDER_NOT_ACCEPTED,), route_id=route.id, status=401)
    return Decision(
        Outcome.ALLOW,
        (Reason.USER_AUTHENTICATED,),
        route_id=route.id,
        rule=f"routes[{route.id}].authenticated",
    )


def _no_route(lookup: RouteLookup) -> Decision:
    if lookup.status == "method-not-allowed":
        allow = ("allow", ", ".join(sorted(lookup.allow)))
        return Decision(Outcome.DENY, (Reason.METHOD_NOT_ALLOWED,), status=405, extra=(allow,))
    reason = _NOT_FOUND.get(lookup.status, Reason.ROUTE_NOT_FOUND)
    return Decision(Outcome.DENY, (reason,), status=404)
