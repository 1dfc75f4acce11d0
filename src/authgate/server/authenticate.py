"""authenticate: a request's credential becomes an `Identity`, or nobody.

Contract: each authenticator answers `None` when its credential is absent ("not
mine", the next one is tried) and an `AuthResult` when it is present — with an
identity when good, with a failure reason when bad. A present-but-bad credential is
never a fall-through to the next authenticator (STYLE.md lesson 3). Store outages
are a failure (`store-unavailable`), not an anonymous user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from authgate.config.schema import GatewayConfig
from authgate.decision import Reason, reason_of
from authgate.identity import Identity
from authgate.oidc.claims import identity_from_claims
from authgate.oidc.client import OIDCClient, ProviderError, provider_for_token
from authgate.oidc.tokens import TokenInvalid
from authgate.routing import Route
from authgate.server.auth_state import AuthRuntime
from authgate.server.cookies import session_cookie
from authgate.sessions.model import Session, Tokens
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuthResult:
    identity: Identity | None
    failure: Reason | None = None
    session: Session | None = None


NOBODY = AuthResult(None)
Authenticator = Callable[
    [web.Request, Route, AuthRuntime, GatewayConfig, bool], Awaitable[AuthResult | None]
]


async def authenticate(
    request: web.Request, route: Route, auth: AuthRuntime, config: GatewayConfig, secure: bool
) -> AuthResult:
    for kind in route.config.authenticate:
        result = await AUTHENTICATORS[kind](request, route, auth, config, secure)
        if result is not None:
            return result
    return NOBODY


async def from_session(
    request: web.Request, route: Route, auth: AuthRuntime, config: GatewayConfig, secure: bool
) -> AuthResult | None:
    cookie = request.cookies.get(session_cookie(config.sessions, secure))
    if not cookie or auth.keys is None:
        return None
    session_id = auth.keys.verify_cookie(cookie)
    if session_id is None:
        return None  # forged or from a retired secret: as if absent, the user logs in
    try:
        return await _live_session(session_id, auth, config)
    except StoreUnavailable:
        log.warning("session store unavailable")
        return AuthResult(None, Reason.STORE_UNAVAILABLE)


async def _live_session(session_id: str, auth: AuthRuntime, config: GatewayConfig) -> AuthResult:
    now = time.time()
    session = await auth.store.get(session_id, now)
    if session is None:
        return AuthResult(None, Reason.SESSION_EXPIRED)
    await auth.store.touch(session_id, now)
    client = auth.oidc.get(session.identity.provider)
    if client is not None and session.tokens.refresh_token:
        session = await _refreshed(session, client, auth)
        if session is None:
            return AuthResult(None, Reason.SESSION_EXPIRED)
    return AuthResult(session.identity, session=session)


async def _refreshed(session: Session, client: OIDCClient, auth: AuthRuntime) -> Session | None:
    async def refresh(tokens: Tokens) -> Tokens:
        assert tokens.refresh_token is not None  # checked by the coordinator
        answer = await client.refresh(tokens.refresh_token)
        expires = time.time() + answer.expires_in if answer.expires_in else None
        return Tokens(
            access_token=answer.access_token,
            # RFC 6749 §6: a provider may or may not rotate the refresh token.
            refresh_token=answer.refresh_token or tokens.refresh_token,
            id_token=answer.id_token or tokens.id_token,
            access_expires_at=expires,
        )

    try:
        return await auth.refresher.ensure_fresh(session, refresh, time.time)
    except ProviderError as error:
        # invalid_grant: the grant was revoked at the provider — the session ends.
        log.info("refresh failed for a session of %s: %s", session.identity.provider, error)
        await auth.store.delete(session.id)
        return None


async def from_bearer(
    request: web.Request, route: Route, auth: AuthRuntime, config: GatewayConfig, secure: bool
) -> AuthResult | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    bearer = route.config.bearer
    assert bearer is not None  # config references: `bearer` in authenticate needs it
    client = provider_for_token(token.strip(), auth.oidc, bearer.providers)
    if client is None:
        return AuthResult(None, Reason.TOKEN_ISSUER_INVALID)
    try:
        claims = await client.validate_access_token(
            token.strip(), audiences=bearer.audiences, now=time.time()
        )
    except TokenInvalid as invalid:
        return AuthResult(None, reason_of(invalid.reason, Reason.TOKEN_MALFORMED))
    except ProviderError as error:
        log.warning("bearer check: provider %s unavailable: %s", client.config.id, error)
        return AuthResult(None, reason_of(error.reason, Reason.PROVIDER_UNREACHABLE))
    identity = identity_from_claims(
        claims, provider_id=client.config.id, mapping=client.config.claims, credential="bearer"
    )
    return AuthResult(identity)


AUTHENTICATORS: dict[str, Authenticator] = {"session": from_session, "bearer": from_bearer}
