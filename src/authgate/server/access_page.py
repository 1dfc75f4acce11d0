"""`/.authgate/access`: request, approve, deny, revoke and break-glass, in the browser.

Contract: `GET` shows a signed-in user what they may do (`server/access_view.py`);
without a session it sends the browser to sign in and back here (302). `POST` is a
form of that page: it needs the session's CSRF token and no cross-site
`Sec-Fetch-Site` / `Origin` (`server/csrf.py`, as sign-out; CWE-352), else 403
`csrf-invalid` / `csrf-cross-site` and nothing changes. The form's `action` is one of
request, break-glass, approve, deny, revoke; the change is the service's
(`authgate.access.service`: rules, records, channel, webhook). A change answers 303
back to the page with what happened (RFC 9110 §15.4.4); a refusal re-renders the
page with the reason and status 403 (`grant-refused`, the code in the record's
rule); a login that falls short (break-glass, or an entitlement's `step_up`) answers
303 to a fresh sign-in (`prompt=login`, `max_age`, `acr_values`) whose return URL is
this page with the form's entitlement chosen — the user submits again, now fresh.
A grant store that cannot be reached is a 503. The request's own record names the
grant it acted on (`grant`), beside the events' records.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

from aiohttp import web

from authgate.access.model import Grant, GrantRefused, GrantState
from authgate.access.service import Actor, Ask, GrantService, StepUpRequired
from authgate.access.records import note_of
from authgate.config.schema_access import LoginDemand
from authgate.config.schema_types import parse_duration
from authgate.decision import Outcome, Reason
from authgate.outcomes import Place, decided, endpoint
from authgate.server.access_view import AccessView, access_sections, message
from authgate.server.answers import decision_response
from authgate.server.auth_state import auth_of
from authgate.server.csrf import cross_site
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.login import authority
from authgate.server.sessions_view import current_session
from authgate.server.state import DECISION_LOG, ServerRuntime
from authgate.sessions.model import Session
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)
ACCESS_PATH = "/.authgate/access"
ACTIONS = ("request", "break-glass", "approve", "deny", "revoke")
DONE = {
    "request": "Your request was sent to the approvers.",
    "break-glass": "Break-glass access is active now; the approvers have been told.",
    "approve": "Approved: the grant is active now.",
    "deny": "Done: the request is closed.",
    "revoke": "Revoked: the grant has ended on every gateway.",
}


def _page(text: str, request_id: str, status: int = 200) -> web.Response:
    headers = {"Cache-Control": "no-store", "X-Request-Id": request_id}
    return web.Response(text=text, status=status, content_type="text/html", headers=headers)


def _see_other(location: str, request_id: str, status: int = 303) -> web.Response:
    headers = {"Location": location, "Cache-Control": "no-store", "X-Request-Id": request_id}
    return web.Response(status=status, headers=headers)


def _service(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> GrantService:
    return GrantService(
        auth_of(request).access,
        runtime.snapshot.config.entitlements,
        record=request.app[DECISION_LOG].submit,
        request_id=exchange.facts.request_id,
    )


async def access(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    facts = exchange.facts
    session = await current_session(request, facts, runtime)
    if session is None or auth_of(request).keys is None:
        # Sign in first, then come back here (GET: a POST's fields are not replayed).
        exchange.decision = endpoint("access", Reason.USER_UNAUTHENTICATED, Outcome.LOGIN)
        exchange.status = 302
        return _see_other("/.authgate/start?" + urlencode({"rd": ACCESS_PATH}), facts.request_id, 302)
    exchange.identity = session.identity
    service = _service(request, exchange, runtime)
    try:
        if request.method == "POST":
            return await _act(request, exchange, runtime, service, session)
        if request.method not in ("GET", "HEAD"):
            exchange.decision = endpoint(
                "access", Reason.METHOD_NOT_ALLOWED, Outcome.DENY, extra=(("allow", "GET, HEAD, POST"),)
            )
            return decision_response(wire_of(request), runtime.pages, exchange.decision, facts)
        done = request.query.get("done", "")
        exchange.decision = endpoint("access", Reason.GATEWAY_ENDPOINT)
        chosen = request.query.get("entitlement", "")
        return await _render(request, exchange, runtime, service, session, DONE.get(done, ""), chosen=chosen)
    except StoreUnavailable as error:
        log.warning("access page: grant store unavailable: %s", error)
        exchange.decision = endpoint("access", Reason.STORE_UNAVAILABLE, Outcome.ERROR)
        return decision_response(wire_of(request), runtime.pages, exchange.decision, facts)


async def _render(
    request: web.Request,
    exchange: Exchange,
    runtime: ServerRuntime,
    service: GrantService,
    session: Session,
    text: str,
    *,
    error: bool = False,
    status: int = 200,
    chosen: str = "",
) -> web.Response:
    keys = auth_of(request).keys
    assert keys is not None  # checked by `access`
    view = await _view(service, Actor.of(session.identity), keys.csrf_token(session.id), runtime, chosen)
    page = runtime.pages.render_access(
        access_sections(view), exchange.facts.request_id, session.identity.user, message(text, error=error)
    )
    return _page(page, exchange.facts.request_id, status)


async def _view(
    service: GrantService, actor: Actor, token: str, runtime: ServerRuntime, chosen: str
) -> AccessView:
    entitlements = service.entitlements
    store = service.access.store
    assert actor.provider is not None and actor.subject is not None
    now = time.time()
    mine = await store.of_subject(actor.provider, actor.subject)
    waiting: list[Grant] = []
    revocable: list[Grant] = []
    if service.approves_any(actor):
        waiting = [g for g in await store.pending() if service.may_approve(actor, g)]
        revocable = [
            g for g in await store.recent()
            if g.status_at(now) is GrantState.ACTIVE and service.may_approve(actor, g)
        ]  # fmt: skip
    return AccessView(
        csrf_token=token,
        now=now,
        requestable={
            n: c for n, c in entitlements.items()
            if c.approvers is not None and (c.requesters is None or actor.member(c.requesters))
        },  # fmt: skip
        break_glass={n: c for n, c in entitlements.items() if c.break_glass is not None and actor.member(c.break_glass)},
        routes=sorted(rid for rid, p in runtime.policies.items() if p.policy.entitlements),
        mine=sorted(mine, key=lambda g: g.requested_at, reverse=True),
        waiting=sorted(waiting, key=lambda g: g.requested_at),
        revocable=revocable,
        chosen=chosen,
    )


async def _act(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime, service: GrantService, session: Session
) -> web.StreamResponse:
    facts = exchange.facts
    if cross_site(request.headers, scheme=facts.scheme, authority=authority(facts, request)):
        return _refused_csrf(request, exchange, runtime, Reason.CSRF_CROSS_SITE)
    try:
        form = await request.post()
    except (ValueError, web.HTTPRequestEntityTooLarge):
        return _refused_csrf(request, exchange, runtime, Reason.CSRF_INVALID)
    keys = auth_of(request).keys
    if keys is None or not keys.verify_csrf_token(session.id, form.get("csrf_token")):
        return _refused_csrf(request, exchange, runtime, Reason.CSRF_INVALID)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    action = fields.get("action", "")
    actor = Actor.of(session.identity)
    try:
        grant = await _apply(service, actor, action, fields)
    except GrantRefused as refused:
        # The rule names the refusal (`endpoint:access:self-approval`) in the record.
        exchange.decision = decided(Outcome.DENY, Reason.GRANT_REFUSED, rule=f"endpoint:access:{refused.code}")
        return await _render(request, exchange, runtime, service, session, refused.message, error=True, status=403)
    except StepUpRequired as needed:
        return _step_up(exchange, needed.demand, fields.get("entitlement", ""), action)
    exchange.grant = note_of(grant, action, actor.name)
    exchange.decision = endpoint("access", Reason.GATEWAY_ENDPOINT, place=Place.ACCESS_FORM)
    return _see_other(f"{ACCESS_PATH}?{urlencode({'done': action, 'grant': grant.id})}", facts.request_id)


async def _apply(service: GrantService, actor: Actor, action: str, fields: dict[str, str]) -> Grant:
    grant_id, note = fields.get("grant_id", ""), fields.get("note", "")
    if action == "approve":
        return await service.approve(actor, grant_id, note)
    if action == "deny":
        return await service.deny(actor, grant_id, note)
    if action == "revoke":
        return await service.revoke(actor, grant_id, note)
    if action in ("request", "break-glass"):
        ask = _ask(fields)
        return await (service.request(actor, ask) if action == "request" else service.break_glass(actor, ask))
    raise GrantRefused("action-unknown", f"not an action of this page: {action!r}")


def _ask(fields: dict[str, str]) -> Ask:
    text = fields.get("duration", "").strip()
    try:
        duration = parse_duration(text) if text else None
    except ValueError:
        raise GrantRefused("duration-invalid", f"not a duration: {text!r} (write e.g. 30m, 1h)") from None
    return Ask(
        fields.get("entitlement", ""), duration, reason=fields.get("reason", ""),
        ticket=fields.get("ticket", ""), route=fields.get("route") or None,
    )  # fmt: skip


def _refused_csrf(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime, reason: Reason
) -> web.StreamResponse:
    log.info("access form refused: %s (request %s)", reason.value, exchange.facts.request_id)
    exchange.decision = endpoint("access", reason, Outcome.DENY)
    return decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)


def _step_up(exchange: Exchange, demand: LoginDemand, entitlement: str, action: str) -> web.Response:
    back = f"{ACCESS_PATH}?{urlencode({'entitlement': entitlement, 'step_up': action})}"
    params: dict[str, str] = {"rd": back, "step_up": "1"}
    if demand.acr is not None:
        params["acr_values"] = demand.acr
    if demand.max_age is not None:
        params["max_age"] = str(int(demand.max_age))
    if demand.amr:
        params["amr"] = " ".join(demand.amr)
    exchange.decision = decided(
        Outcome.STEP_UP, Reason.GATEWAY_ENDPOINT, rule="endpoint:access", place=Place.ACCESS_FORM,
        extra=tuple(params.items()),
    )  # fmt: skip
    return _see_other("/.authgate/start?" + urlencode(params), exchange.facts.request_id)
