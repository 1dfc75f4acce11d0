"""Serve a bearer route's RFC 9728 metadata, and the 403 of a token short of scopes.

Contract: `protected_resource(wire, exchange, runtime, auth)` answers a request for
`/.well-known/oauth-protected-resource[/<path>]` that names a bearer route's
resource (`resource.identifier.route_for`) — the JSON document on GET and HEAD, a 405
naming them otherwise — with the decision set on the exchange (rule
`endpoint:oauth-protected-resource`, the route's id), or None when the path names
no resource of ours (the caller routes it as any request). Served before routing
and without authentication: a client reads it to learn how to get a token (§3).
`Access-Control-Allow-Origin: *`: the document is public, and a browser-based
client on another origin must be able to read it. Built from the generation the
request pinned, as an `Answer` of `server/verdict.py`, so both front ends serve it.

`scope_challenge(response, wire, facts, runtime, decision, authority)` adds RFC 6750
§3.1's `insufficient_scope` challenge to a 403 whose decision names the scopes
missing (`authority`: the host[:port] the client called, forward-auth's forwarded one).
"""

from __future__ import annotations

from aiohttp import web

from authgate.decision import Decision, Reason
from authgate.facts import RequestFacts
from authgate.outcomes import endpoint, refusal
from authgate.resource.challenge import BearerChallenge, insufficient_scope
from authgate.resource.identifier import resource_of, route_for
from authgate.resource.metadata import document
from authgate.server.answers import decision_response
from authgate.server.auth_state import AuthRuntime
from authgate.server.exchange import Exchange
from authgate.server.state import ServerRuntime
from authgate.wire import Wire

NAME = "oauth-protected-resource"
_READS = ("GET", "HEAD")


async def protected_resource(
    wire: Wire, exchange: Exchange, runtime: ServerRuntime, auth: AuthRuntime
) -> web.Response | None:
    facts = exchange.facts
    route = route_for(runtime.snapshot.routes.routes, facts.host, facts.path)
    if route is None:
        return None
    if facts.method not in _READS:  # RFC 9110 §15.5.6: with Allow
        exchange.decision = refusal(
            Reason.METHOD_NOT_ALLOWED, route_id=route.id, extra=(("allow", ", ".join(_READS)),)
        )
        return decision_response(wire, runtime.pages, exchange.decision, facts)
    config = runtime.snapshot.config
    body = await document(
        route,
        resource_of(route, facts.scheme, wire.host),
        auth.oidc,
        runtime.policies[route.id].scopes,
        mtls=config.devices.mtls is not None and config.server.tls is not None,
    )
    exchange.decision = endpoint(NAME, Reason.GATEWAY_ENDPOINT, route_id=route.id)
    headers = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
    return web.json_response(body, headers=headers)


def scope_challenge(
    response: web.Response,
    wire: Wire,
    facts: RequestFacts,
    runtime: ServerRuntime,
    decision: Decision,
    authority: str | None = None,
) -> None:
    scope = dict(decision.extra).get("scope")
    if scope is None or decision.route_id is None:
        return
    route = runtime.snapshot.routes.by_id(decision.route_id)
    bearer = BearerChallenge.of(route, facts.scheme, authority or wire.host)
    if bearer is not None:
        scheme = wire.headers.get("Authorization", "").partition(" ")[0].lower()
        response.headers["WWW-Authenticate"] = insufficient_scope(scope, bearer, scheme)
