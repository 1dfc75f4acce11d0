"""The decision pipeline shared by the proxy and forward-auth: identity → decision.

Contract: `evaluate(request, exchange, runtime)` authenticates the request for its
route (skipped on public paths and when no route matches), decides, and stores the
identity and the decision on the exchange. It never answers: the caller enforces —
the proxy forwards or answers, forward-auth answers 200/401/403 for another proxy.
Only fact extraction differs between the two modes (STYLE.md lesson 8).
"""

from __future__ import annotations

from aiohttp import web

from authgate.decide import decide, public_rule
from authgate.routing import Route
from authgate.server.auth_state import AUTH
from authgate.server.authenticate import NOBODY, AuthResult, authenticate
from authgate.server.exchange import Exchange
from authgate.server.state import ServerRuntime


async def evaluate(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> AuthResult:
    facts = exchange.facts
    lookup = runtime.snapshot.routes.match(facts.host, facts.path, facts.method)
    auth = await _authenticate(request, lookup.route, runtime, facts.path, facts.scheme)
    exchange.identity = auth.identity
    exchange.decision = decide(facts, lookup, auth.identity, auth.failure)
    return auth


async def _authenticate(
    request: web.Request, route: Route | None, runtime: ServerRuntime, path: str, scheme: str
) -> AuthResult:
    # Public paths skip authentication: no store read for anonymous traffic.
    if route is None or public_rule(route, path) is not None:
        return NOBODY
    config = runtime.snapshot.config
    return await authenticate(request, route, request.app[AUTH], config, scheme == "https")
