"""The gateway's own endpoints under `/.authgate/` on every routed host.

Contract: `serve_endpoint` dispatches by exact path (and `/.authgate/signals/<id>`,
one push endpoint per provider with Shared Signals); every endpoint sets the
exchange's decision (so it is logged like any request) and returns its response.
Unknown paths under the prefix are 404 — the prefix is reserved and never proxied,
so an upstream can't be reached through it (and can't shadow the gateway's pages).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from authgate.decision import Outcome, Reason
from authgate.outcomes import endpoint
from authgate.server.access_page import ACCESS_PATH, access
from authgate.server.answers import decision_response
from authgate.server.auth_state import auth_of
from authgate.server.denied_page import DENIED_PATH, denied_page
from authgate.server.branding import LOGO_PATH
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.login import callback, sign_in, start
from authgate.server.logout import backchannel_logout, logged_out, logout
from authgate.server.sessions_view import current_identity
from authgate.server.signals_endpoint import PATH as SIGNALS_PATH
from authgate.server.signals_endpoint import signals_push
from authgate.server.state import ServerRuntime

PREFIX = "/.authgate/"
Endpoint = Callable[[web.Request, Exchange, ServerRuntime], Awaitable[web.StreamResponse]]


async def jwks(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    keys = auth_of(request).assertion_keys
    exchange.decision = endpoint("jwks.json", Reason.GATEWAY_ENDPOINT)
    body = keys.jwks() if keys is not None else {"keys": []}
    return web.json_response(body, headers={"Cache-Control": "public, max-age=300"})


async def userinfo(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    identity = await current_identity(request, exchange.facts, runtime)
    exchange.identity = identity
    if identity is None:
        exchange.decision = endpoint("userinfo", Reason.USER_UNAUTHENTICATED, Outcome.LOGIN)
        response = decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)
        response.headers["WWW-Authenticate"] = 'Session realm="authgate"'
        return response
    exchange.decision = endpoint("userinfo", Reason.GATEWAY_ENDPOINT)
    body = {
        "sub": identity.subject,
        "provider": identity.provider,
        "user": identity.user,
        "email": identity.email,
        "name": identity.name,
        "groups": list(identity.groups),
        "roles": list(identity.roles),
        "acr": identity.acr,
        "amr": list(identity.amr),
        "auth_time": identity.auth_time,
    }
    return web.Response(
        text=json.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"}
    )


async def logo(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    """The operator's `pages.logo`, served here so the pages' CSP stays `img-src 'self'`."""
    image = runtime.pages.branding.logo
    if image is None:
        exchange.decision = endpoint("logo", Reason.ENDPOINT_NOT_FOUND, Outcome.DENY)
        return decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)
    exchange.decision = endpoint("logo", Reason.GATEWAY_ENDPOINT)
    headers = {"Cache-Control": "public, max-age=300"}
    return web.Response(body=image.body, content_type=image.content_type, headers=headers)


ENDPOINTS: dict[str, Endpoint] = {
    PREFIX + "start": start,
    PREFIX + "sign-in": sign_in,
    PREFIX + "callback": callback,
    PREFIX + "logout": logout,
    PREFIX + "logged-out": logged_out,
    PREFIX + "backchannel-logout": backchannel_logout,
    PREFIX + "jwks.json": jwks,
    PREFIX + "userinfo": userinfo,
    DENIED_PATH: denied_page,
    ACCESS_PATH: access,
    LOGO_PATH: logo,
}


async def serve_endpoint(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime
) -> web.StreamResponse:
    path = exchange.facts.path
    serve = ENDPOINTS.get(path)
    if serve is None and path.startswith(SIGNALS_PATH):
        serve = signals_push  # /.authgate/signals/<provider id>
    if serve is None:
        exchange.decision = endpoint("unknown", Reason.ENDPOINT_NOT_FOUND, Outcome.DENY)
        return decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)
    return await serve(request, exchange, runtime)
