"""Login endpoints: `start` (leave for the provider), `sign-in` (chooser), `callback`.

Contract: the authorization code flow with PKCE (S256), `state` and `nonce` always
(OIDC Core §3.1; RFC 7636; RFC 9700 §2.1). The login state lives in the store under
its `state` for `sessions.login_timeout`, is redeemed at most once, and is bound to
the browser that started it by a signed login cookie — a callback URL replayed in
another browser fails (login CSRF, RFC 6749 §10.12). A successful login always
creates a new session id (no fixation, OWASP ASVS V3.2.1), and the user lands on the
URL first asked for, only ever on a host this gateway routes. A provider that cannot
be reached or times out during a sign-in gets a page naming it, with a retry link to
that URL (502 / 504, `answers.sign_in_unavailable_response`). Where the provider takes
pushed authorization requests (RFC 9126; the provider's `par`), the request's
parameters are pushed first and the browser carries only a `request_uri`
(`oidc.par`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from authgate.decision import Outcome, Reason, reason_of
from authgate.facts import RequestFacts
from authgate.outcomes import Place, endpoint
from authgate.oidc.claims import identity_from_claims
from authgate.oidc.client import OIDCClient, ProviderError, merge_userinfo
from authgate.oidc.metadata import ProviderMetadata
from authgate.oidc.flow import LoginError, LoginState, check_callback, new_login_state
from authgate.oidc.par import authorization_location
from authgate.oidc.tokens import TokenInvalid
from authgate.policy.reasons import STEP_UP_FAILED
from authgate.policy.stepup import StepUpNeed, check_step_up_result
from authgate.redirects import check_return_url
from authgate.routing import PathRejected, Route, normalize_path
from authgate.server.abuse import count_failure, guard_login
from authgate.server.adaptive import acknowledge_step_up
from authgate.server.answers import decision_response, sign_in_unavailable_response
from authgate.server.auth_state import AuthRuntime, auth_of
from authgate.server.cookies import (
    clear_cookie,
    login_cookie,
    session_cookie,
    set_cookie,
)
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.sessions_view import session_id_from_cookie
from authgate.server.state import ServerRuntime
from authgate.sessions.keys import new_session_id
from authgate.sessions.model import Session, Tokens
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)
CALLBACK = "/.authgate/callback"


def _return_to(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> str:
    """The checked `rd`; a refused one becomes `/` on this host and is noted in the record."""
    facts = exchange.facts
    checked = check_return_url(
        request.query.get("rd"),
        scheme=facts.scheme,
        host=authority(facts, request),
        serves_host=runtime.snapshot.routes.serves_host,
        other_ports=lambda host, path: _return_ports(host, path, runtime),
    )
    exchange.return_url_rejected = checked.rejected
    return checked.url


def authority(facts: RequestFacts, request: web.Request) -> str:
    """The validated host with the port the client used (never the raw Host header)."""
    port = request.host.rpartition(":")[2] if not request.host.endswith("]") else ""
    return f"{facts.host}:{port}" if port.isdigit() else facts.host


def _route_for(url: str, runtime: ServerRuntime) -> str | None:
    """The id of the route that will serve `url` (to know which providers it accepts)."""
    parts = urlsplit(url)
    route = _route_at(parts.hostname or "", parts.path, runtime)
    return route.id if route else None


def _route_at(host: str, path: str, runtime: ServerRuntime) -> Route | None:
    try:
        normalized = normalize_path(path or "/")
    except PathRejected:
        return None
    return runtime.snapshot.routes.match(host.lower(), normalized, "GET").route


def _return_ports(host: str, path: str, runtime: ServerRuntime) -> list[int]:
    """The other ports the route serving `host` + `path` lists (`return_ports`)."""
    route = _route_at(host, path, runtime)
    return route.config.return_ports if route else []


def _accepted_providers(route_id: str | None, runtime: ServerRuntime) -> list[str]:
    config = runtime.snapshot.config
    every = [p.id for p in config.providers]
    if route_id is None:
        return every
    listed = runtime.snapshot.routes.by_id(route_id).config.providers
    return every if listed is None else [p for p in every if p in listed]


_STEP_UP_VALUE = re.compile(r"[A-Za-z0-9:._/ -]{1,256}")


def _step_up(request: web.Request) -> dict[str, Any]:
    """The step-up asked for by the decision (`login_response`): a fresh login at the
    provider (`prompt=login`) with `acr_values` / `max_age`, and the `amr` the new
    login must show. Malformed values are dropped: the callback and the policy check
    what the new login brings either way, so a tampered URL gains nothing."""
    query = request.query
    if query.get("step_up") != "1":
        return {}
    wanted: dict[str, Any] = {"prompt": "login"}
    for name in ("acr_values", "amr", "mfa"):
        value = query.get(name)
        if value is not None and _STEP_UP_VALUE.fullmatch(value):
            wanted[name] = value
    max_age = query.get("max_age", "")
    if max_age.isdigit():
        wanted["max_age"] = int(max_age)
    return wanted


def _step_up_failure(login: LoginState, claims: Mapping[str, Any], leeway: float) -> str | None:
    """After a step-up login, the ID token must show what was asked (acr, amr, a fresh
    auth_time — OIDC Core §3.1.2.1 `max_age`, §2 `auth_time`)."""
    if login.prompt != "login":
        return None
    need = StepUpNeed(
        acr=login.acr_values,
        amr=tuple((login.amr or "").split()),
        max_age=float(login.max_age) if login.max_age is not None else None,
        rule="",
        reason="",
    )
    failed = check_step_up_result(need, claims, login.created_at, leeway)
    if failed is None and login.mfa is not None and not _shows_one_of(login.mfa, claims):
        return STEP_UP_FAILED  # asked for a second factor, came back with a password only
    return failed


def _shows_one_of(methods: str, claims: Mapping[str, Any]) -> bool:
    amr = claims.get("amr")
    return isinstance(amr, list) and not set(methods.split()).isdisjoint(
        m for m in amr if isinstance(m, str)
    )


def _switching(request: web.Request) -> dict[str, str]:
    return {"switch": "1"} if request.query.get("switch") == "1" else {}


def _login_params(
    request: web.Request, client: OIDCClient, metadata: ProviderMetadata, route_id: str | None, runtime: ServerRuntime
) -> dict[str, Any]:
    """What this login asks of the provider beyond a plain sign-in: a step-up; else a
    registration (`signup=1`, `prompt=create` — OpenID Connect Initiating User
    Registration 1.0 §3 — only where offered); else "switch account" (`switch=1`: the
    provider's account picker, `prompt=select_account`, where it lists one, else a
    fresh login, `prompt=login` with `max_age=0` so the answer must carry `auth_time`,
    OIDC Core §3.1.2.1). Anything else in the query is ignored."""
    wanted = _step_up(request)
    if wanted:
        return wanted
    if request.query.get("signup") == "1" and _offers_signup(client, metadata, route_id, runtime):
        return {"prompt": "create"}
    if request.query.get("switch") == "1":
        if "select_account" in metadata.prompt_values_supported:
            return {"prompt": "select_account"}
        return {"prompt": "login", "max_age": 0}
    return {}


def _offers_signup(
    client: OIDCClient, metadata: ProviderMetadata, route_id: str | None, runtime: ServerRuntime
) -> bool:
    """`signup: true`, advertised by the provider, and not for a workforce route:
    employees are provisioned, they do not register themselves."""
    if not client.config.signup or "create" not in metadata.prompt_values_supported:
        return False
    return route_id is None or runtime.snapshot.routes.by_id(route_id).config.audience != "workforce"


async def _chooser_first(
    request: web.Request, accepted: list[str], route_id: str | None, runtime: ServerRuntime
) -> bool:
    """The chooser page before the provider: several providers to pick from, or one
    whose "Create account" is on offer (never in the middle of a step-up)."""
    if len(accepted) > 1:
        return True
    if request.query.get("step_up") == "1" or not accepted:
        return False
    return bool(await _signup_offers(request, accepted, route_id, runtime))


async def _signup_offers(
    request: web.Request, accepted: list[str], route_id: str | None, runtime: ServerRuntime
) -> list[str]:
    """The accepted providers whose "Create account" the chooser shows; one whose
    discovery cannot be loaded now is left out (signing in reports it, if it is down)."""
    clients = auth_of(request).oidc
    offers = []
    for pid in accepted:
        client = clients.get(pid)
        if client is None or not client.config.signup:
            continue
        try:
            metadata = await client.load()
        except ProviderError:
            continue
        if _offers_signup(client, metadata, route_id, runtime):
            offers.append(pid)
    return offers


# The provider, not the application, is down or slow: a sign-in page that says so and
# offers to try again, with the gateway's usual 502/504 (RFC 9110 §15.6.3, §15.6.5).
_UNAVAILABLE = frozenset({Reason.PROVIDER_UNREACHABLE, Reason.PROVIDER_TIMEOUT})


def _provider_failed(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime, client: OIDCClient, return_to: str
) -> web.Response:
    """The answer to the exchange's provider failure; `return_to` is the retry link."""
    decision, facts = exchange.decision, exchange.facts
    if not _UNAVAILABLE.intersection(decision.reasons):
        return decision_response(wire_of(request), runtime.pages, decision, facts)
    name = client.config.display_name or client.config.id
    return sign_in_unavailable_response(wire_of(request), runtime.pages, decision, facts, name, return_to)


def _redirect(location: str, request_id: str) -> web.Response:
    return web.Response(
        status=302,
        headers={"Location": location, "Cache-Control": "no-store", "X-Request-Id": request_id},
    )


async def start(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    facts = exchange.facts
    refused = await guard_login(wire_of(request), exchange, runtime, auth_of(request), "start")
    if refused is not None:
        return refused
    return_to = _return_to(request, exchange, runtime)
    route_id = _route_for(return_to, runtime)
    accepted = _accepted_providers(route_id, runtime)
    provider_id = request.query.get("provider")
    if provider_id is None and await _chooser_first(request, accepted, route_id, runtime):
        exchange.decision = endpoint(
            "start", Reason.LOGIN_CHOOSER, Outcome.LOGIN, route_id=route_id, place=Place.LOGIN_START
        )
        query = {"rd": return_to, **_switching(request)}
        return _redirect("/.authgate/sign-in?" + urlencode(query), facts.request_id)
    if provider_id is None and accepted:
        provider_id = accepted[0]
    auth = auth_of(request)
    if provider_id not in accepted or provider_id not in auth.oidc or auth.keys is None:
        exchange.decision = endpoint("start", Reason.PROVIDER_UNKNOWN, Outcome.DENY, route_id=route_id)
        return decision_response(wire_of(request), runtime.pages, exchange.decision, facts)
    client = auth.oidc[provider_id]
    return await _leave_for_provider(request, exchange, client, return_to, route_id, runtime)


async def _leave_for_provider(
    request: web.Request,
    exchange: Exchange,
    client: OIDCClient,
    return_to: str,
    route_id: str | None,
    runtime: ServerRuntime,
) -> web.StreamResponse:
    facts = exchange.facts
    auth = auth_of(request)
    sessions = runtime.snapshot.config.sessions
    try:
        metadata = await client.load()
        login = new_login_state(
            client.config.id, return_to, time.time(), **_login_params(request, client, metadata, route_id, runtime)
        )
        await auth.store.put_login_state(login.state, login.to_bytes(), sessions.login_timeout)
        redirect_uri = f"{facts.scheme}://{authority(facts, request)}{CALLBACK}"
        location = await authorization_location(client, metadata, login, redirect_uri)
    except ProviderError as error:
        reason = reason_of(error.reason, Reason.PROVIDER_BAD_RESPONSE)
        exchange.decision = endpoint("start", reason, Outcome.ERROR, route_id=route_id)
        return _provider_failed(request, exchange, runtime, client, return_to)
    except StoreUnavailable:
        exchange.decision = endpoint("start", Reason.STORE_UNAVAILABLE, Outcome.ERROR, route_id=route_id)
        return decision_response(wire_of(request), runtime.pages, exchange.decision, facts)
    exchange.decision = endpoint("start", Reason.LOGIN_STARTED, Outcome.LOGIN, route_id=route_id)
    response = _redirect(location, facts.request_id)
    assert auth.keys is not None
    secure = facts.scheme == "https"
    set_cookie(
        response,
        login_cookie(sessions, secure),
        auth.keys.sign_session_id(login.state),
        sessions=sessions,
        secure=secure,
        max_age=sessions.login_timeout,
    )
    return response


async def sign_in(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    facts = exchange.facts
    return_to = _return_to(request, exchange, runtime)
    route_id = _route_for(return_to, runtime)
    names = {p.id: p.display_name or p.id for p in runtime.snapshot.config.providers}
    accepted = _accepted_providers(route_id, runtime)

    def link(pid: str, **more: str) -> tuple[str, str, str]:
        query = {"provider": pid, "rd": return_to, **more}
        return (pid, names[pid], "/.authgate/start?" + urlencode(query))

    choices = [link(pid, **_switching(request)) for pid in accepted]
    signups = [link(pid, signup="1") for pid in await _signup_offers(request, accepted, route_id, runtime)]
    exchange.decision = endpoint("sign-in", Reason.LOGIN_CHOOSER, Outcome.LOGIN, route_id=route_id)
    page = runtime.pages.render_chooser(choices, facts.request_id, signups)
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def callback(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    facts = exchange.facts
    auth = auth_of(request)
    sessions = runtime.snapshot.config.sessions
    secure = facts.scheme == "https"
    refused = await guard_login(wire_of(request), exchange, runtime, auth, "callback")
    if refused is not None:
        return refused
    try:
        login = await _redeem_login_state(request, exchange, auth, runtime)
        session = await _complete_login(request, exchange, auth, login, runtime)
    except _LoginFailed as failed:
        exchange.decision = endpoint("callback", failed.reason, failed.outcome, place=failed.place)
        if failed.outcome is Outcome.DENY:  # the client's doing, not a provider outage
            log.info("login refused: %s (request %s)", failed.reason.value, facts.request_id)
            await count_failure(auth, "ip", facts.client_ip)
        else:
            log.warning("login failed: %s (request %s)", failed.reason.value, facts.request_id)
        if failed.retry is not None:
            response = _provider_failed(request, exchange, runtime, *failed.retry)
        else:
            response = decision_response(wire_of(request), runtime.pages, exchange.decision, facts)
        clear_cookie(response, login_cookie(sessions, secure), sessions=sessions, secure=secure)
        return response
    exchange.identity = session.identity
    route_id = _route_for(login.return_to, runtime)
    if login.prompt == "login" and route_id is not None:
        route = runtime.snapshot.routes.by_id(route_id)
        await acknowledge_step_up(wire_of(request), facts, session, route, runtime, auth)
    exchange.decision = endpoint("callback", Reason.LOGIN_COMPLETED, Outcome.ALLOW, route_id=route_id)
    return _logged_in(request, exchange, session, login.return_to, runtime, auth)


class _LoginFailed(Exception):
    def __init__(
        self,
        reason: Reason,
        outcome: Outcome = Outcome.DENY,
        retry: tuple[OIDCClient, str] | None = None,  # the provider that failed, return URL
        place: Place | None = None,
    ) -> None:
        super().__init__(reason.value)
        self.reason, self.outcome, self.retry, self.place = reason, outcome, retry, place


async def _redeem_login_state(
    request: web.Request, exchange: Exchange, auth: AuthRuntime, runtime: ServerRuntime
) -> LoginState:
    facts = exchange.facts
    sessions = runtime.snapshot.config.sessions
    state = request.query.get("state", "")
    cookie = wire_of(request).cookie(login_cookie(sessions, facts.scheme == "https")) or ""
    bound = auth.keys.verify_cookie(cookie) if auth.keys is not None and cookie else None
    if not state or bound != state:
        raise _LoginFailed(Reason.LOGIN_STATE_MISMATCH)
    try:
        raw = await auth.store.take_login_state(state)
    except StoreUnavailable:
        raise _LoginFailed(Reason.STORE_UNAVAILABLE, Outcome.ERROR) from None
    if raw is None:
        raise _LoginFailed(Reason.LOGIN_STATE_EXPIRED)
    try:
        return LoginState.from_bytes(raw)
    except LoginError as error:
        raise _LoginFailed(reason_of(error.reason, Reason.LOGIN_STATE_INVALID)) from None


async def _complete_login(
    request: web.Request, exchange: Exchange, auth: AuthRuntime, login: LoginState, runtime: ServerRuntime
) -> Session:
    client = auth.oidc.get(login.provider_id)
    if client is None:  # the provider was removed by a reload mid-login
        raise _LoginFailed(Reason.PROVIDER_UNKNOWN)
    try:
        return await _exchange_and_store(request, exchange, auth, client, login, runtime)
    except LoginError as error:
        raise _LoginFailed(reason_of(error.reason, Reason.LOGIN_FAILED)) from None
    except TokenInvalid as error:
        raise _LoginFailed(reason_of(error.reason, Reason.LOGIN_FAILED)) from None
    except ProviderError as error:
        reason = reason_of(error.reason, Reason.PROVIDER_BAD_RESPONSE)
        raise _LoginFailed(reason, Outcome.ERROR, (client, login.return_to)) from None
    except StoreUnavailable:
        raise _LoginFailed(Reason.STORE_UNAVAILABLE, Outcome.ERROR) from None


async def _exchange_and_store(
    request: web.Request, exchange: Exchange, auth: AuthRuntime, client: OIDCClient, login: LoginState, runtime: ServerRuntime
) -> Session:
    facts = exchange.facts
    config = client.config
    metadata = await client.load()
    code = check_callback(
        dict(request.query),
        login=login,
        issuer=metadata.issuer,
        iss_supported=metadata.authorization_response_iss_parameter_supported,
    )
    try:
        tokens = await client.exchange_code(
            code, code_verifier=login.code_verifier, redirect_uri=f"{facts.scheme}://{authority(facts, request)}{CALLBACK}"
        )
    except ProviderError as error:
        if error.oauth_error == "invalid_grant":
            # RFC 6749 §5.2: the code is unknown, spent, issued to another client or
            # its PKCE verifier does not match — an injected or replayed code (RFC
            # 9700 §4.5), the browser's doing, not an outage: 400, and it counts
            # towards the login regulator. Other refusals (invalid_client,
            # unauthorized_client, ...) are our configuration: they stay 502.
            raise _LoginFailed(Reason.CODE_REJECTED) from None
        raise
    now = time.time()
    if not tokens.id_token:
        raise _LoginFailed(Reason.TOKEN_MISSING, Outcome.ERROR, place=Place.LOGIN_CALLBACK)
    claims = await client.validate_id_token(tokens.id_token, nonce=login.nonce, now=now)
    if _step_up_failure(login, claims, config.leeway) is not None:
        raise _LoginFailed(Reason.STEP_UP_FAILED)
    if config.userinfo and tokens.access_token:
        claims = merge_userinfo(claims, await client.userinfo(tokens.access_token))
    session_id = new_session_id()
    identity = identity_from_claims(
        claims,
        provider_id=config.id,
        mapping=config.claims,
        credential="session",
        session_id=session_id,
        email_verified=config.email_verified,
    )
    lifetimes = runtime.snapshot.config.sessions
    session = Session(
        id=session_id,
        identity=identity,
        tokens=Tokens(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
            access_expires_at=now + tokens.expires_in if tokens.expires_in else None,
        ),
        provider_sid=claims.get("sid"),
        created_at=now,
        last_seen=now,
        expires_at=now + lifetimes.max_lifetime,
    )
    await auth.store.create(session)
    previous = session_id_from_cookie(request, facts, runtime)
    if previous is not None:  # a new login replaces the old session, never reuses its id
        await auth.store.delete(previous)
    return session


def _logged_in(
    request: web.Request,
    exchange: Exchange,
    session: Session,
    return_to: str,
    runtime: ServerRuntime,
    auth: AuthRuntime,
) -> web.StreamResponse:
    facts = exchange.facts
    sessions = runtime.snapshot.config.sessions
    secure = facts.scheme == "https"
    response = _redirect(return_to, facts.request_id)
    assert auth.keys is not None
    set_cookie(
        response,
        session_cookie(sessions, secure),
        auth.keys.sign_session_id(session.id),
        sessions=sessions,
        secure=secure,
        max_age=sessions.max_lifetime,
    )
    clear_cookie(response, login_cookie(sessions, secure), sessions=sessions, secure=secure)
    _remember_device(request, exchange, response, auth, runtime)
    return response


def _remember_device(
    request: web.Request,
    exchange: Exchange,
    response: web.StreamResponse,
    auth: AuthRuntime,
    runtime: ServerRuntime,
) -> None:
    """Issue (or renew) the known-device cookie at login: the moment the browser has
    just proved who uses it. Its id is what the risk history calls this device."""
    devices = auth.known_devices
    if devices is None:
        return
    now = exchange.facts.time
    value = wire_of(request).cookie(devices.name)
    known = devices.verify(value, now) if value else None
    if known is not None and not known.needs_reissue(now):
        return
    device_id = known.facts.device_id if known is not None else None
    set_cookie(
        response,
        devices.name,
        devices.issue(now, device_id),
        sessions=runtime.snapshot.config.sessions,
        secure=exchange.facts.scheme == "https",
        max_age=devices.max_age,
    )
