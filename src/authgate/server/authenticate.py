"""authenticate: a request's credential becomes an `Identity`, or nobody.

Contract: each authenticator answers `None` when its credential is absent ("not
mine", the next one is tried) and an `AuthResult` when it is present — with an
identity when good, with a failure reason when bad. A present-but-bad credential is
never a fall-through to the next authenticator (STYLE.md lesson 3). Store outages
are a failure (`store-unavailable`), not an anonymous user.

A session cookie that is present but does not verify — tampered, truncated, of
another shape, signed with a secret no longer (or never) configured — is
`session-invalid`; one that verifies but names no live session (it ended: idle or
absolute expiry, logout, revocation, a failed refresh) is `session-expired`. The
MAC proves the gateway issued that id, and the store keeps no tombstones, so "ended"
is all it can say. Both leave `stale_cookie` set so the answer clears the cookie;
a route's stricter idle limit does not (the session lives on for other routes).
A live session is re-verified at its provider when due (`continuous.reverify`: a
refresh, or `reverify_every` passed) before it is used; one that does not survive
that fails with the reason it ended (`refresh-identity-mismatch`,
`session-revoked-by-provider`, `reverify-failed`), its cookie cleared.

One credential per request (docs/headers.md): `duplicated_credential` finds a second
`Authorization` or a second copy of a gateway cookie, which the caller refuses before
anything here runs. A bearer token on a route that accepts bearer tokens is THE
credential: the session cookie is then not read at all, so what is validated and what
the upstream receives (`AuthResult.authorization`, the one validated field value)
cannot be two different people. `Authorization: DPoP <token>` is a bearer token too
(RFC 9449 §7.1); after the token's signature and claims, its binding (`cnf`: a DPoP
proof, an mTLS certificate) is checked by `resource.binding`: a binding that does not
hold is a failure with its reason (`dpop-*`, `mtls-*`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

from authgate import credentials
from authgate.config.schema import GatewayConfig
from authgate.decision import Reason, reason_of
from authgate.identity import Identity
from authgate.oidc.claims import identity_from_claims
from authgate.continuous.interval import reverify_interval
from authgate.continuous.reverify import reverify
from authgate.oidc.client import ProviderError, bearer_provider, provider_for_token
from authgate.oidc.tokens import TokenInvalid
from authgate.resource.binding import (
    DPOP_HEADER,
    Binding,
    BindingState,
    Presented,
    RequestTarget,
    certificate_of,
    check_binding,
)
from authgate.routing import Route
from authgate.server.abuse import count_failure, is_banned
from authgate.server.auth_state import AuthRuntime
from authgate.server.cookies import gateway_cookies, session_cookie
from authgate.sessions.model import Session
from authgate.sessions.store import StoreUnavailable
from authgate.wire import Wire

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    """The request as its client addressed it: what a DPoP proof's htm/htu name."""

    method: str
    url: str  # scheme://authority + the normalized path, no query


@dataclass(frozen=True, slots=True)
class AuthResult:
    identity: Identity | None
    failure: Reason | None = None
    session: Session | None = None
    stale_cookie: bool = False  # the session cookie names nothing usable: clear it
    authorization: str | None = None  # the Authorization value validated (bearer)
    # What re-verifying the session at its provider found (`continuous.reverify`):
    # `groups-changed`, `reverify-deferred`...; added to the decision's reasons.
    reevaluated: Reason | None = None
    response_headers: tuple[tuple[str, str], ...] = ()  # for the answer (`DPoP-Nonce`)


NOBODY = AuthResult(None)
SESSION_INVALID = AuthResult(None, Reason.SESSION_INVALID, stale_cookie=True)
SESSION_ENDED = AuthResult(None, Reason.SESSION_EXPIRED, stale_cookie=True)


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What an authenticator needs besides the request's wire facts."""

    route: Route
    auth: AuthRuntime
    config: GatewayConfig
    secure: bool
    route_idle_timeout: float | None  # the route's (audience's) idle limit, if stricter
    client_ip: str
    target: Target | None = None  # the request a DPoP proof must name


Authenticator = Callable[[Wire, AuthContext], Awaitable[AuthResult | None]]


async def authenticate(
    wire: Wire,
    route: Route,
    auth: AuthRuntime,
    config: GatewayConfig,
    secure: bool,
    *,
    client_ip: str,
    route_idle_timeout: float | None = None,
    target: Target | None = None,
) -> AuthResult:
    context = AuthContext(route, auth, config, secure, route_idle_timeout, client_ip, target)
    kinds = route.config.authenticate
    if "bearer" in kinds and _bearer_header(wire) is not None:
        kinds = ["bearer"]  # the bearer is the credential; the cookie is not consulted
    for kind in kinds:
        result = await AUTHENTICATORS[kind](wire, context)
        if result is not None:
            return result
    return NOBODY


async def from_session(wire: Wire, context: AuthContext) -> AuthResult | None:
    auth, config = context.auth, context.config
    cookie = wire.cookie(session_cookie(config.sessions, context.secure))
    if not cookie or auth.keys is None:
        return None
    session_id = auth.keys.verify_cookie(cookie)
    if session_id is None:
        # Forged, truncated or from a retired secret: the user logs in as if it were
        # absent, but the record says a bad cookie came (tampering is worth seeing).
        return SESSION_INVALID
    try:
        return await _live_session(session_id, context)
    except StoreUnavailable:
        log.warning("session store unavailable")
        return AuthResult(None, Reason.STORE_UNAVAILABLE)


async def _live_session(session_id: str, context: AuthContext) -> AuthResult:
    auth, now = context.auth, time.time()
    session = await auth.store.get(session_id, now)
    if session is None:
        return SESSION_ENDED
    if context.route_idle_timeout is not None and session.idle_expired(
        now, context.route_idle_timeout
    ):
        # A stricter route (a workforce audience: 1 h) asks for a new login; the
        # session itself lives on for routes with the global idle timeout.
        return AuthResult(None, Reason.SESSION_EXPIRED)
    await auth.store.touch(session_id, now)
    client = auth.oidc.get(session.identity.provider)
    if client is None:
        return AuthResult(session.identity, session=session)
    # Re-verified at the provider before it is decided, when due (docs/continuous.md):
    # a refresh whose identity no longer holds, or a revoked grant, ends it here.
    reverified = await reverify(
        session,
        client,
        auth.refresher,
        auth.store,
        reverify_every=reverify_interval(context.route.config, client.config),
    )
    if reverified.session is None:
        return AuthResult(None, reverified.reason or Reason.SESSION_EXPIRED, stale_cookie=True)
    identity = reverified.session.identity
    return AuthResult(identity, session=reverified.session, reevaluated=reverified.reason)


async def from_bearer(wire: Wire, context: AuthContext) -> AuthResult | None:
    route, auth = context.route, context.auth
    header = _bearer_header(wire)
    if header is None:
        return None
    scheme, _, rest = header.partition(" ")
    token = rest.strip()
    bearer = route.config.bearer
    assert bearer is not None  # config references: `bearer` in authenticate needs it
    if await is_banned(auth, "ip", context.client_ip):
        return AuthResult(None, Reason.LOGIN_BANNED)
    chosen = bearer_provider(token, auth.oidc, bearer.providers)
    if chosen is None:
        return AuthResult(None, Reason.TOKEN_ISSUER_INVALID)
    client, opaque = chosen
    validate = client.validate_opaque_token if opaque else client.validate_access_token
    try:
        claims = await validate(token, audiences=bearer.audiences, now=time.time())
    except TokenInvalid as invalid:
        await _count_bad_token(auth, token, invalid.reason, context.client_ip, opaque)
        return AuthResult(None, reason_of(invalid.reason, Reason.TOKEN_MALFORMED))
    except ProviderError as error:
        log.warning("bearer check: provider %s unavailable: %s", client.config.id, error)
        if opaque:  # nobody vouched for the token: fail closed (503), docs/agents.md
            return AuthResult(None, Reason.INTROSPECTION_UNAVAILABLE)
        return AuthResult(None, reason_of(error.reason, Reason.PROVIDER_UNREACHABLE))
    if await is_banned(auth, "sub", f"{client.config.id}|{claims['sub']}"):
        return AuthResult(None, Reason.LOGIN_BANNED)
    binding = await _binding(wire, context, scheme, token, claims)
    if binding.failure is not None:
        log.info("bearer token of %s refused: %s", client.config.id, binding.detail)
        if binding.failure in _KEYLESS_USE:
            await count_failure(auth, "ip", context.client_ip)
        return AuthResult(None, binding.failure, response_headers=binding.headers)
    identity = identity_from_claims(
        claims,
        provider_id=client.config.id,
        mapping=client.config.claims,
        credential="bearer",
        email_verified=client.config.email_verified,
    )
    return AuthResult(identity, authorization=header, response_headers=binding.headers)


async def _binding(
    wire: Wire, context: AuthContext, scheme: str, token: str, claims: dict[str, Any]
) -> Binding:
    """The token's `cnf` against this request: DPoP proof, client certificate."""
    bearer = context.route.config.bearer
    assert bearer is not None  # from_bearer checked it
    target = context.target or Target(
        wire.method, f"{'https' if context.secure else 'http'}://{wire.host}{wire.raw_target.partition('?')[0]}"
    )
    presented = Presented(
        "dpop" if scheme.lower() == "dpop" else "bearer", token, tuple(wire.headers.getall(DPOP_HEADER, ()))
    )
    state = BindingState(context.auth.store, context.auth.dpop_nonces, time.time())
    request = RequestTarget(target.method, target.url, certificate_of(wire.ssl_object))
    try:
        return await check_binding(presented, claims, request, bearer, state)
    except StoreUnavailable:
        log.warning("DPoP replay check: session store unavailable")
        return Binding(Reason.STORE_UNAVAILABLE, detail="store unavailable")


def _bearer_header(wire: Wire) -> str | None:
    """`Authorization: Bearer ...` or, for DPoP-bound tokens, `DPoP ...` (RFC 9449 §7.1)."""
    header = wire.headers.get("Authorization", "")
    return header if header.partition(" ")[0].lower() in _TOKEN_SCHEMES else None


def duplicated_credential(wire: Wire, config: GatewayConfig, secure: bool) -> str | None:
    """What credential the request carries twice (`authgate.credentials`), or None."""
    cookies = gateway_cookies(config.sessions, secure)
    return credentials.duplicated_credential(wire.headers.items(), cookies)


# Checked only after the signature: a forged token's `sub` is anyone's, and counting
# it would let an attacker get a victim banned.
_SIGNED_FAILURES = frozenset(
    {"token-expired", "token-not-yet-valid", "token-audience-invalid", "token-iat-invalid"}
)


async def _count_bad_token(
    auth: AuthRuntime, token: str, reason: str, client_ip: str, opaque: bool
) -> None:
    await count_failure(auth, "ip", client_ip)
    # An opaque token has no readable `sub` (and its introspected one is only the
    # provider's word about a token that failed here): the address alone counts.
    if reason in _SIGNED_FAILURES and not opaque:
        subject = jwt.decode(token, options={"verify_signature": False}).get("sub")
        issuer_client = provider_for_token(token, auth.oidc)
        if isinstance(subject, str) and issuer_client is not None:
            await count_failure(auth, "sub", f"{issuer_client.config.id}|{subject}")


_TOKEN_SCHEMES = frozenset({"bearer", "dpop"})
# A bound token used without its key or certificate: what a stolen token looks like,
# counted against the client IP (limits.regulation) like a bad token. Never against
# the token's subject: the thief would get its victim banned. A missing nonce, a
# stale iat or a wrong htu is a client's bug more likely than an attack: not counted.
_KEYLESS_USE = frozenset(
    {
        Reason.DPOP_PROOF_MISSING,
        Reason.DPOP_KEY_MISMATCH,
        Reason.DPOP_REPLAYED,
        Reason.MTLS_CERTIFICATE_MISSING,
        Reason.MTLS_CERTIFICATE_MISMATCH,
    }
)

AUTHENTICATORS: dict[str, Authenticator] = {"session": from_session, "bearer": from_bearer}
