"""Answers the gateway gives itself: error pages, JSON bodies, login redirects.

Contract: one place renders every non-upstream answer, chosen by content type — an
HTML page (`server/pages.py`, operator-overridable) for browsers, JSON for API
clients — and always carries the request id. Nothing here ever includes an
exception text or a traceback (CWE-209). Every function takes the request's `Wire`
and the snapshot's `PageRenderer`, never the framework's request: both front ends
render through here, and a `web.Response` is built without one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlencode

from aiohttp import web

from authgate.decision import Decision, Outcome
from authgate.facts import RequestFacts
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.resource.challenge import BearerChallenge, unauthorized
from authgate.server.pages import (
    ERROR_TITLES,
    DeniedActions,
    PageRenderer,
    safe_href,
    sign_in_unavailable_text,
)
from authgate.sessions.keys import SessionKeys
from authgate.wire import Wire


def wants_html(accept: str) -> bool:
    """Browsers ask for text/html; API clients ask for JSON or anything (`*/*`)."""
    return "text/html" in accept.lower()


SignedIn = tuple[str, SessionKeys | None]
"""A signed-in user's gateway session id and the keys its CSRF token is made with."""


def _html(
    wire: Wire,
    pages: PageRenderer,
    decision: Decision,
    facts: RequestFacts,
    user: str | None,
    signed_in: SignedIn | None,
) -> str:
    if decision.status == 403:
        codes = [reason.value for reason in decision.reasons]
        actions = _denied_actions(wire, facts, signed_in)
        return pages.render_denied(codes, facts.request_id, decision.route_id, user, actions)
    return pages.render_error(decision.status, decision.reason, facts.request_id, start_over(wire, facts))


def _denied_actions(wire: Wire, facts: RequestFacts, signed_in: SignedIn | None) -> DeniedActions | None:
    """Sign out (the logout POST with this session's CSRF token) and "switch account"
    (a fresh login back to this URL, `switch=1`: `server/login.py`) for a session."""
    if signed_in is None:
        return None
    session_id, keys = signed_in
    if keys is None:
        return None
    switch = "/.authgate/start?" + urlencode({"rd": original_url(wire, facts), "switch": "1"})
    return DeniedActions(keys.csrf_token(session_id), switch)


def start_over(wire: Wire, facts: RequestFacts) -> str:
    """Where "start over" leads: the address asked for again when that is a page load
    on a route, else the host's root — a path on this host, never another one."""
    if wire.method not in ("GET", "HEAD") or facts.path.startswith("/.authgate/"):
        return "/"
    target = facts.path + ("?" + facts.query if facts.query else "")
    try:
        safe_href(target)
    except ValueError:  # `//host/...` would leave this host: the root instead
        return "/"
    return target


def _json(decision: Decision, request_id: str) -> str:
    title, _ = ERROR_TITLES.get(decision.status, ("Error", ""))
    return json.dumps(
        {"error": title, "status": decision.status, "reason": decision.reason, "request_id": request_id}
    )


def decision_response(
    wire: Wire,
    pages: PageRenderer,
    decision: Decision,
    facts: RequestFacts,
    user: str | None = None,
    signed_in: SignedIn | None = None,
) -> web.Response:
    """The gateway's own answer for a decision that does not go upstream; for a
    signed-in user (`signed_in`), the denied page offers to sign out."""
    if wants_html(wire.headers.get("Accept", "")):
        body, content_type = _html(wire, pages, decision, facts, user, signed_in), "text/html"
    else:
        body, content_type = _json(decision, facts.request_id), "application/json"
    response = _answer(decision, facts, body, content_type)
    _set_allow(response, decision)
    return response


def sign_in_unavailable_response(
    wire: Wire,
    pages: PageRenderer,
    decision: Decision,
    facts: RequestFacts,
    provider: str,
    retry_url: str,
) -> web.Response:
    """The provider failed during a sign-in: a page (or JSON) that names the provider,
    not the application, with the request id and a link to try again (`retry_url`, the
    URL first asked for: opening it starts a fresh sign-in)."""
    if wants_html(wire.headers.get("Accept", "")):
        body = pages.render_sign_in_unavailable(
            decision.status, decision.reason, provider, retry_url, facts.request_id
        )
        return _answer(decision, facts, body, "text/html")
    title, _ = sign_in_unavailable_text(decision.status, provider)
    document = {
        "error": title,
        "status": decision.status,
        "reason": decision.reason,
        "provider": provider,
        "retry": retry_url,
        "request_id": facts.request_id,
    }
    return _answer(decision, facts, json.dumps(document), "application/json")


def _answer(decision: Decision, facts: RequestFacts, body: str, content_type: str) -> web.Response:
    return web.Response(
        status=decision.status,
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers={REQUEST_ID_HEADER: facts.request_id, "Cache-Control": "no-store"},
    )


def _set_allow(response: web.Response, decision: Decision) -> None:
    for name, value in decision.extra:
        if name == "allow":  # RFC 9110 §15.5.6: a 405 lists what the route accepts
            response.headers["Allow"] = value


def refusal_response(decision: Decision, facts: RequestFacts) -> web.Response:
    """A refusal at the connection level, where the request may not have parsed: JSON,
    and the connection closes after it (RFC 9112 §9.6)."""
    response = _answer(decision, facts, _json(decision, facts.request_id), "application/json")
    _set_allow(response, decision)
    response.force_close()
    return response


def is_browser_navigation(wire: Wire) -> bool:
    """A top-level page load — the only request that may be sent off to log in.

    XHR/fetch calls, non-GET methods and clients that do not ask for HTML get a 401
    instead: a redirect to a login page would be followed invisibly by a script, and
    replaying a POST body after login is not possible.
    """
    if wire.method not in ("GET", "HEAD"):
        return False
    headers = wire.headers
    if headers.get("X-Requested-With", "").lower() == "xmlhttprequest":
        return False
    mode = headers.get("Sec-Fetch-Mode")
    if mode is not None and mode != "navigate":
        return False
    return wants_html(headers.get("Accept", ""))


def original_url(wire: Wire, facts: RequestFacts) -> str:
    """The URL the client asked for (its host is checked again wherever it is used)."""
    url = f"{facts.scheme}://{wire.host}{facts.path}"
    return url + "?" + facts.query if facts.query else url


def redirect(location: str, facts: RequestFacts) -> web.Response:
    headers = {"Location": location, "Cache-Control": "no-store", REQUEST_ID_HEADER: facts.request_id}
    return web.Response(status=302, headers=headers)


def login_response(
    wire: Wire,
    pages: PageRenderer,
    facts: RequestFacts,
    decision: Decision,
    methods: Sequence[str],
    bearer: BearerChallenge | None = None,
) -> web.Response:
    """Sign in (or sign in again, for a step-up): a redirect for a browser on a session
    route, a 401 for everyone else (with `bearer`'s challenges on a token route).

    A step-up carries `acr_values` / `max_age` / `amr` to `start`; leaving them out
    gains nothing — the policy checks the new login's `acr`, `amr` and `auth_time`
    on every request, and the callback checks them against what was asked.
    """
    if "session" in methods and is_browser_navigation(wire):
        params = {"rd": original_url(wire, facts)}
        if decision.outcome is Outcome.STEP_UP:
            params.update({"step_up": "1", **dict(decision.extra)})
        return redirect("/.authgate/start?" + urlencode(params), facts)
    response = decision_response(wire, pages, decision, facts)
    response.headers["WWW-Authenticate"] = auth_challenge(decision, bearer)
    return response


def consent_response(
    wire: Wire, pages: PageRenderer, facts: RequestFacts, decision: Decision
) -> web.Response:
    """Missing consent: a browser goes to the operator's consent page with a return URL."""
    consent_url = dict(decision.extra).get("consent_url")
    if consent_url and is_browser_navigation(wire):
        separator = "&" if "?" in consent_url else "?"
        return redirect(consent_url + separator + urlencode({"return_to": original_url(wire, facts)}), facts)
    return decision_response(wire, pages, decision, facts)


def auth_challenge(decision: Decision, bearer: BearerChallenge | None) -> str:
    """RFC 9110 §11.6.1: a 401 names how to authenticate — a session login, or on a
    route that takes tokens (`bearer`) the challenges of `resource.challenge`
    (RFC 6750 §3, RFC 9449 §7.1, RFC 9470 §3, RFC 9728 §5.1)."""
    if bearer is None:
        return 'Session realm="authgate", login_uri="/.authgate/start"'
    return unauthorized(decision, bearer)
