"""decide(): facts and the route lookup become one `Decision`.

Contract: pure and synchronous — no I/O, no aiohttp. Default deny: a request is
allowed only when a route matches and a rule of that route allows it. Until login
exists (issue 3) the only allowing rule is a route's `public` paths; everything else
on a route needs a user, which is `login` (not `deny`: "not logged in" is not "not
allowed", STYLE.md lesson 2).
"""

from __future__ import annotations

from authgate.decision import Decision, Outcome, Reason
from authgate.facts import RequestFacts
from authgate.routing import RouteLookup

_NOT_FOUND = {
    "host-unknown": Reason.HOST_UNKNOWN,
    "path-unknown": Reason.ROUTE_NOT_FOUND,
}


def refuse_request(reason: Reason) -> Decision:
    """A request refused before routing (bad host or path): 400, no route."""
    return Decision(Outcome.DENY, (reason,), status=400)


def decide(facts: RequestFacts, lookup: RouteLookup) -> Decision:
    route = lookup.route
    if route is None:
        if lookup.status == "method-not-allowed":
            allow = ("allow", ", ".join(sorted(lookup.allow)))
            return Decision(Outcome.DENY, (Reason.METHOD_NOT_ALLOWED,), status=405, extra=(allow,))
        return Decision(Outcome.DENY, (_NOT_FOUND.get(lookup.status, Reason.ROUTE_NOT_FOUND),), status=404)
    for index, pattern in enumerate(route.public):
        if pattern.matches(facts.path):
            return Decision(
                Outcome.ALLOW,
                (Reason.ROUTE_PUBLIC,),
                route_id=route.id,
                rule=f"routes[{route.id}].public[{index}]",
            )
    return Decision(Outcome.LOGIN, (Reason.USER_UNAUTHENTICATED,), route_id=route.id, status=401)
