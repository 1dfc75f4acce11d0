"""Logout endpoints: RP-initiated `logout`, the `logged-out` page, back-channel logout.

Contract: `GET /.authgate/logout` changes nothing (RFC 9110 §9.2.1: GET is safe): for
a live session it renders a confirmation page whose plain HTML form POSTs the
session's CSRF token back; without one, the logged-out page. `POST` is the logout: it
needs that token (an HMAC of the cookie's session id, `SessionKeys.csrf_token`) and
no cross-site `Sec-Fetch-Site` / `Origin` (`server/csrf.py`), else 403 `csrf-invalid`
or `csrf-cross-site` and the session lives on — a logout link in an `<img>` or a
forged form on another site must not sign users out (logout CSRF; OWASP CSRF
Prevention Cheat Sheet, CWE-352). A POST without a
session cookie has nothing to end and is sent to the logged-out page. A good POST
ends the gateway session (store and cookie), revokes its refresh token at the
provider where it has a revocation endpoint (RFC 7009, best effort), and then sends the browser (303) to the
provider's `end_session_endpoint` with `id_token_hint` and a
`post_logout_redirect_uri` on this host (OIDC RP-Initiated Logout 1.0 §2), or to the
logged-out page when the provider has none. `backchannel-logout` validates the
provider's `logout_token` (OIDC Back-Channel Logout 1.0 §2.6), refuses a replayed
`jti`, and ends every session of that `sid` — or of that `sub` — in the shared store,
so every replica sees the logout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web

from authgate.decision import Outcome, Reason, reason_of
from authgate.outcomes import Place, endpoint
from authgate.oidc.client import OIDCClient, ProviderError, provider_for_token
from authgate.oidc.tokens import TokenInvalid
from authgate.server.answers import decision_response
from authgate.server.auth_state import AuthRuntime, auth_of
from authgate.server.cookies import clear_cookie, session_cookie
from authgate.server.csrf import cross_site
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.login import authority
from authgate.server.sessions_view import current_session, session_id_from_cookie
from authgate.server.state import ServerRuntime
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)
LOGGED_OUT = "/.authgate/logged-out"
CSRF_FIELD = "csrf_token"
_METHODS = "GET, HEAD, POST"


def _page(text: str, request_id: str) -> web.Response:
    headers = {"Cache-Control": "no-store", "X-Request-Id": request_id}
    return web.Response(text=text, content_type="text/html", headers=headers)


def _see_other(location: str, request_id: str) -> web.Response:
    # 303, not 302: the browser follows a POST's answer with a GET (RFC 9110 §15.4.4).
    headers = {"Location": location, "Cache-Control": "no-store", "X-Request-Id": request_id}
    return web.Response(status=303, headers=headers)


async def logout(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    if request.method in ("GET", "HEAD"):
        return await _confirm(request, exchange, runtime)
    if request.method == "POST":
        return await _log_out(request, exchange, runtime)
    exchange.decision = endpoint(
        "logout", Reason.METHOD_NOT_ALLOWED, Outcome.DENY, extra=(("allow", _METHODS),)
    )
    return decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)


async def _confirm(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    """The confirmation form for a live session; the logged-out page for no session."""
    facts = exchange.facts
    session = await current_session(request, facts, runtime)
    keys = auth_of(request).keys
    if session is None or keys is None:
        exchange.decision = endpoint("logout", Reason.GATEWAY_ENDPOINT)
        return _page(runtime.pages.render_logged_out(facts.request_id), facts.request_id)
    exchange.identity = session.identity
    exchange.decision = endpoint("logout", Reason.LOGOUT_CONFIRM)
    token = keys.csrf_token(session.id)
    page = runtime.pages.render_logout_confirm(token, facts.request_id, session.identity.user)
    return _page(page, facts.request_id)


async def _log_out(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    facts = exchange.facts
    session_id = session_id_from_cookie(request, facts, runtime)
    if session_id is None:  # nothing to end: a second tab, an expired cookie
        exchange.decision = endpoint("logout", Reason.GATEWAY_ENDPOINT, place=Place.LOGOUT_WITHOUT_SESSION)
        return _see_other(LOGGED_OUT, facts.request_id)
    refused = await _csrf_refusal(request, facts.scheme, authority(facts, request), session_id)
    if refused is not None:
        log.info("logout refused: %s (request %s)", refused.value, facts.request_id)
        exchange.decision = endpoint("logout", refused, Outcome.DENY)
        return decision_response(wire_of(request), runtime.pages, exchange.decision, facts)
    return await _end_session(request, exchange, runtime, session_id)


async def _csrf_refusal(request: web.Request, scheme: str, host: str, session_id: str) -> Reason | None:
    # The browser's word first: a cross-site POST is refused before its body is read.
    if cross_site(request.headers, scheme=scheme, authority=host):
        return Reason.CSRF_CROSS_SITE
    try:
        token = (await request.post()).get(CSRF_FIELD)
    except (ValueError, web.HTTPRequestEntityTooLarge):  # not UTF-8; over client_max_size
        return Reason.CSRF_INVALID
    keys = auth_of(request).keys
    if keys is None or not keys.verify_csrf_token(session_id, token):
        return Reason.CSRF_INVALID
    return None


async def _end_session(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime, session_id: str
) -> web.StreamResponse:
    facts = exchange.facts
    auth = auth_of(request)
    session = await current_session(request, facts, runtime)  # who, and the id_token hint
    try:
        await auth.store.delete(session_id)
    except StoreUnavailable:
        log.warning("store unavailable at logout; the cookie is cleared anyway")
    location = LOGGED_OUT
    if session is not None:
        exchange.identity = session.identity
        await _revoke(auth, session.identity.provider, session.tokens.refresh_token)
        location = await _end_session_url(auth, session.identity.provider, session.tokens.id_token, facts.scheme, authority(facts, request)) or LOGGED_OUT
    exchange.decision = endpoint("logout", Reason.LOGOUT)
    response = _see_other(location, facts.request_id)
    sessions = runtime.snapshot.config.sessions
    secure = facts.scheme == "https"
    clear_cookie(response, session_cookie(sessions, secure), sessions=sessions, secure=secure)
    return response


# A logout waits this long at most for the provider's revocation endpoint: the user
# is logged out here either way.
REVOKE_TIMEOUT = 2.0


async def _revoke(auth: AuthRuntime, provider_id: str, refresh_token: str | None) -> None:
    """Revoke the session's refresh token at the provider (RFC 7009 §2.1; RFC 9700
    §4.14: a token that outlives the session is one that can be stolen), where the
    provider has a revocation endpoint. Best effort: a failure is logged."""
    client = auth.oidc.get(provider_id)
    if client is None or refresh_token is None:
        return
    try:
        metadata = await client.load()
        if metadata.revocation_endpoint is None:
            return
        async with asyncio.timeout(REVOKE_TIMEOUT):
            await client.revoke(refresh_token, hint="refresh_token")
    except (ProviderError, TimeoutError) as error:
        log.warning("logout: revoking the refresh token at %s failed: %s", provider_id, error)


async def _end_session_url(
    auth: AuthRuntime, provider_id: str, id_token: str | None, scheme: str, host: str
) -> str | None:
    client = auth.oidc.get(provider_id)
    if client is None or id_token is None:
        return None
    try:
        await client.load()
    except ProviderError:
        return None
    return client.end_session_url(
        id_token_hint=id_token, post_logout_redirect_uri=f"{scheme}://{host}{LOGGED_OUT}"
    )


async def logged_out(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    exchange.decision = endpoint("logged-out", Reason.GATEWAY_ENDPOINT)
    request_id = exchange.facts.request_id
    return _page(runtime.pages.render_logged_out(request_id), request_id)


def _bad_request(exchange: Exchange, reason: Reason) -> web.Response:
    # Back-Channel Logout §2.8: an error is a 400 with an OAuth-style JSON body.
    exchange.decision = endpoint(
        "backchannel-logout", reason, Outcome.DENY, place=Place.BACKCHANNEL_LOGOUT
    )
    status = exchange.decision.status
    body = {"error": "invalid_request", "error_description": reason.value, "request_id": exchange.facts.request_id}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"})


async def backchannel_logout(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    if request.method != "POST":
        return _bad_request(exchange, Reason.METHOD_NOT_ALLOWED)
    form = await request.post()
    token = form.get("logout_token")
    if not isinstance(token, str) or not token:
        return _bad_request(exchange, Reason.TOKEN_MISSING)
    auth = auth_of(request)
    client = provider_for_token(token, auth.oidc)
    if client is None:
        return _bad_request(exchange, Reason.TOKEN_ISSUER_INVALID)
    try:
        ended = await _end_sessions(client, token, auth)
    except TokenInvalid as invalid:
        return _bad_request(exchange, reason_of(invalid.reason, Reason.TOKEN_MALFORMED))
    except ProviderError as error:
        return _bad_request(exchange, reason_of(error.reason, Reason.PROVIDER_UNREACHABLE))
    except StoreUnavailable:
        return _bad_request(exchange, Reason.STORE_UNAVAILABLE)
    if ended is None:
        return _bad_request(exchange, Reason.TOKEN_REPLAYED)
    log.info("back-channel logout from %s ended %d session(s)", client.config.id, ended)
    exchange.decision = endpoint("backchannel-logout", Reason.BACKCHANNEL_LOGOUT)
    return web.Response(status=200, headers={"Cache-Control": "no-store"})


async def _end_sessions(client: OIDCClient, token: str, auth: AuthRuntime) -> int | None:
    """Sessions ended, or None when this `jti` was already used (a replay)."""
    config = client.config
    metadata = await client.load()
    claims = await client.validate_logout_token(token, now=time.time())
    # Remember the jti for as long as the token could be accepted (iat + leeway).
    if not await auth.store.remember_once(f"logout-jti:{metadata.issuer}:{claims['jti']}", 2 * config.leeway + 300):
        return None
    if "sid" in claims:
        return await auth.store.delete_by_provider_sid(config.id, claims["sid"])
    return await auth.store.delete_by_subject(config.id, claims["sub"])
