"""Forward-auth: `/.authgate/auth` answers "may this request pass?" for another proxy.

Contract (nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`;
recipes in docs/forward-auth.md):

* It is the request whose raw target is exactly `/.authgate/auth` (any query, any
  Host: proxies call the gateway by their own name for it). Only a peer in
  `server.trusted_proxies` may ask; anyone else gets 403 and a warning in the log.
  The headers below name the URL being authorized: a client that could set them
  would get an "allow" for a public URL while the proxy serves it a private one —
  oauth2-proxy's GHSA-7x63-xv5r-3p2x (CVE-2026-40575), and its issue #3506 where
  the trusted set defaulted to everyone. An empty `trusted_proxies` trusts no one.
* The request being authorized is read from ONE of two header dialects:
  - `forward` (Traefik, Caddy): X-Forwarded-Method, -Proto, -Host and -Uri;
  - `nginx`: X-Original-URL (`scheme://host[:port]/path?query`), X-Original-Method.
  `?mode=nginx` or `?mode=forward` pins the dialect, and the recipes pin it. Without
  it the dialect is the one whose URL header is present, and a request carrying both
  URL headers is refused: a proxy sets one set and passes the other through from the
  client untouched, so reading "whichever is there" would let the client choose.
  Each header must appear exactly once. Host and target are normalized exactly like a
  proxied request's (`server.facts.resolve_target`); the client IP and request id are
  the auth request's own (X-Forwarded-For walked through trusted proxies).
* Those facts go through the same pipeline as proxied requests (`evaluate`; STYLE.md
  lesson 8), and the answer is the decision, with `Cache-Control: no-store`:
  - allow -> 200, empty body, with the identity headers the upstream should get (the
    proxy mode's set, signed assertion included), X-Request-Id, and `Cookie`: the
    client's cookies without the gateway's session and login cookies (none left: no
    header), for the proxy to copy (`auth_request_set`, `copy_headers`,
    `authResponseHeaders`) so the upstream never sees the session id, as in proxy mode;
  - login or step-up -> a browser navigation on a session route goes to
    `<proto>://<host>/.authgate/start?rd=<url>` (plus the step-up parameters, as in
    `answers.login_response`): a 302 in the forward dialect; in the nginx dialect a
    401 carrying that URL in `Location` (auth_request turns anything but 2xx/401/403
    into a 500; the recipe redirects with `error_page 401`). Anything else gets 401
    with WWW-Authenticate. A refusal that names a `consent_url` sends a browser
    navigation there the same way;
  - deny -> 403, whatever the proxy mode would answer (404, 405): the gateway is asked
    whether the request may pass, not whether the resource exists. The body is the
    denied page (Caddy and Traefik relay it), with X-Authgate-Reason and
    X-Authgate-Route for nginx, whose `error_page 403` shows it through
    `/.authgate/denied` (`server.denied_page`);
  - unreadable forwarded headers, an unsafe path or a credential sent twice
    (`duplicate-credentials`, docs/headers.md) -> 400; errors keep their 5xx.
  In the nginx dialect every refusal below 500 other than 401 is a 403.
* The exchange's facts become the authorized request's, so its one decision record
  names that request's method, host and path, like any proxied request.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict, MultiMapping

from authgate.decision import Decision, Outcome, Reason
from authgate.facts import RequestFacts
from authgate.outcomes import Place, refusal
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.resource.challenge import BearerChallenge
from authgate.server.answers import (
    auth_challenge,
    decision_response,
    is_browser_navigation,
)
from authgate.server.auth_state import AuthRuntime, auth_of
from authgate.server.authenticate import AuthResult, duplicated_credential
from authgate.mutate.identity_headers import strip_cookie
from authgate.server.cookies import clear_session_cookie, gateway_cookies
from authgate.server.exchange import Exchange
from authgate.server.facts import resolve_target
from authgate.server.edge import wire_of
from authgate.server.forward_plan import add_identity
from authgate.server.pipeline import evaluate
from authgate.server.protected_resource import scope_challenge
from authgate.server.state import ServerRuntime
from authgate.wire import Wire

log = logging.getLogger(__name__)
# nginx's auth_request turns anything but 2xx, 401 and 403 into a 500: in its dialect
# a refusal of the auth call, and any 4xx decision but 401, is a 403.
_NGINX_REFUSED = 403

AUTH_PATH = "/.authgate/auth"
START_PATH = "/.authgate/start"
ORIGINAL_URL = "X-Original-URL"
ORIGINAL_METHOD = "X-Original-Method"
FORWARDED_METHOD = "X-Forwarded-Method"
FORWARDED_PROTO = "X-Forwarded-Proto"
FORWARDED_HOST = "X-Forwarded-Host"
FORWARDED_URI = "X-Forwarded-Uri"
# RFC 9110 §9.1: a method is a token; the bound keeps junk out of the decision log.
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
_SCHEMES = ("http", "https")
_NO_STORE = "no-store"
COOKIE = "Cookie"
# A refusal names its reason codes here, for a proxy that can't relay the page
# itself (nginx's auth_request drops the body): its `error_page 403` fetches
# `/.authgate/denied` with this header (`server.denied_page`).
REASON_HEADER = "X-Authgate-Reason"
ROUTE_HEADER = "X-Authgate-Route"


class Dialect(enum.Enum):
    """Which headers name the request being authorized, and how login is answered."""

    NGINX = "nginx"
    FORWARD = "forward"


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The request being authorized, as the proxy described it (not yet normalized)."""

    dialect: Dialect
    method: str
    scheme: str
    authority: str  # host[:port] as the client sent it
    raw_target: str  # origin-form: /path?query


class ForwardedRejected(ValueError):
    """Forwarded headers that do not name one request unambiguously."""

    def __init__(self, reason: Reason, detail: str, dialect: Dialect | None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.dialect = dialect


def is_forward_auth(facts: RequestFacts) -> bool:
    """Whether this is a proxy's auth call: the exact raw path, not a spelling of it.

    Exact, so that `/.authgate//auth` or `/.authgate/%61uth` sent through a proxy's
    pass-through of `/.authgate/` can't sidestep a proxy rule that hides the endpoint.
    """
    path, _, _ = facts.raw_target.partition("?")
    return path == AUTH_PATH


def read_forwarded(headers: MultiMapping[str], mode: str | None) -> Forwarded:
    """The request a trusted proxy asks about; raises `ForwardedRejected`."""
    dialect = _dialect(headers, mode)
    if dialect is Dialect.NGINX:
        return _from_original(headers)
    return _from_forwarded(headers)


def _dialect(headers: MultiMapping[str], mode: str | None) -> Dialect:
    if mode is not None:
        try:
            return Dialect(mode)
        except ValueError:
            raise ForwardedRejected(Reason.PATH_INVALID, f"unknown mode {mode!r}", None) from None
    original, forwarded = ORIGINAL_URL in headers, FORWARDED_URI in headers
    if original and forwarded:
        detail = f"both {ORIGINAL_URL} and {FORWARDED_URI}: pin the dialect with ?mode="
        raise ForwardedRejected(Reason.PATH_INVALID, detail, None)
    if original:
        return Dialect.NGINX
    if forwarded:
        return Dialect.FORWARD
    raise ForwardedRejected(Reason.PATH_INVALID, f"no {ORIGINAL_URL} or {FORWARDED_URI}", None)


def _one(
    headers: MultiMapping[str], name: str, dialect: Dialect, reason: Reason = Reason.PATH_INVALID
) -> str:
    values = headers.getall(name, [])
    if len(values) != 1 or not values[0]:
        raise ForwardedRejected(reason, f"{name}: expected exactly one value", dialect)
    return values[0]


def _method(headers: MultiMapping[str], name: str, dialect: Dialect) -> str:
    method = _one(headers, name, dialect)
    if not _METHOD.fullmatch(method):
        raise ForwardedRejected(Reason.PATH_INVALID, f"{name}: not a method", dialect)
    return method


def _from_original(headers: MultiMapping[str]) -> Forwarded:
    dialect = Dialect.NGINX
    url = _one(headers, ORIGINAL_URL, dialect)
    scheme, sep, rest = url.partition("://")
    authority, slash, target = rest.partition("/")
    if not sep or scheme.lower() not in _SCHEMES or not slash:
        detail = f"{ORIGINAL_URL}: not an http(s) URL with a path"
        raise ForwardedRejected(Reason.PATH_INVALID, detail, dialect)
    method = _method(headers, ORIGINAL_METHOD, dialect)
    return Forwarded(dialect, method, scheme.lower(), authority, "/" + target)


def _from_forwarded(headers: MultiMapping[str]) -> Forwarded:
    dialect = Dialect.FORWARD
    scheme = _one(headers, FORWARDED_PROTO, dialect).lower()
    if scheme not in _SCHEMES:
        raise ForwardedRejected(Reason.PATH_INVALID, f"{FORWARDED_PROTO}: not http(s)", dialect)
    authority = _one(headers, FORWARDED_HOST, dialect, Reason.HOST_INVALID)
    target = _one(headers, FORWARDED_URI, dialect)
    method = _method(headers, FORWARDED_METHOD, dialect)
    return Forwarded(dialect, method, scheme, authority, target)


def forwarded_facts(base: RequestFacts, forwarded: Forwarded) -> tuple[RequestFacts, Reason | None]:
    """The auth request's facts, retargeted at the request being authorized."""
    target = resolve_target([forwarded.authority], forwarded.raw_target)
    facts = dataclasses.replace(
        base,
        method=forwarded.method,
        scheme=forwarded.scheme,
        host=target.host,
        raw_target=forwarded.raw_target,
        path=target.path,
        query=target.query,
    )
    return facts, target.problem


async def forward_auth(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime
) -> web.StreamResponse:
    """Answer a proxy's auth call; the exchange ends up with the decision to record."""
    wire, auth = wire_of(request), auth_of(request)
    base = exchange.facts
    if not base.peer_trusted:
        log.warning(
            "forward-auth call from untrusted peer %s refused (request %s)",
            base.peer_ip,
            base.request_id,
        )
        refused = refusal(
            Reason.GATEWAY_ENDPOINT, rule="forward-auth:untrusted-peer", place=Place.FORWARD_AUTH_PEER
        )
        return _refuse(wire, exchange, runtime, refused)
    try:
        forwarded = read_forwarded(wire.headers, request.query.get("mode"))
    except ForwardedRejected as bad:
        # The proxy's configuration, or a client header it passed through: either way
        # the operator wants to see it (the decision record has the request id).
        log.info("forward-auth request %s refused: %s", base.request_id, bad.detail)
        return _refuse(wire, exchange, runtime, _refused(bad.reason, "headers", bad.dialect))
    exchange.facts, problem = forwarded_facts(base, forwarded)
    if problem is None and duplicated_credential(
        wire, runtime.snapshot.config, forwarded.scheme == "https"
    ):
        # The proxy passes the client's headers on: the same one-credential rule.
        problem = Reason.DUPLICATE_CREDENTIALS
    if problem is not None:
        what = "credentials" if problem is Reason.DUPLICATE_CREDENTIALS else "target"
        return _refuse(wire, exchange, runtime, _refused(problem, what, forwarded.dialect))
    result = await evaluate(wire, exchange, runtime, auth, authority=forwarded.authority)
    return _answer(wire, exchange, result, runtime, auth, forwarded)


def _refused(reason: Reason, what: str, dialect: Dialect | None) -> Decision:
    """The auth call's own refusal (`dialect` None: before one was read)."""
    decision = refusal(reason, rule=f"forward-auth:{what}")
    if dialect is Dialect.NGINX:
        decision = dataclasses.replace(decision, status=_NGINX_REFUSED)
    return decision


def _refuse(wire: Wire, exchange: Exchange, runtime: ServerRuntime, decision: Decision) -> web.Response:
    exchange.decision = decision
    return decision_response(wire, runtime.pages, decision, exchange.facts)


def _answer(
    wire: Wire,
    exchange: Exchange,
    result: AuthResult,
    runtime: ServerRuntime,
    auth: AuthRuntime,
    forwarded: Forwarded,
) -> web.Response:
    decision, facts = exchange.decision, exchange.facts
    if decision.allowed:
        return _allowed(wire, exchange, result, runtime, auth)
    if decision.outcome in (Outcome.LOGIN, Outcome.STEP_UP):
        response = _login(wire, facts, decision, runtime, forwarded)
        if result.stale_cookie:  # passed to the browser by proxies that relay the answer
            clear_session_cookie(response, runtime.snapshot.config.sessions, facts.scheme == "https")
        return response
    status = _refusal_status(decision, forwarded.dialect)
    if status != decision.status:
        exchange.decision = decision = dataclasses.replace(decision, status=status)
    consent_url = dict(decision.extra).get("consent_url")
    if consent_url and _navigation(wire, facts):
        separator = "&" if "?" in consent_url else "?"
        query = urlencode({"return_to": _original_url(facts, forwarded)})
        return _send_to(consent_url + separator + query, facts, forwarded, None)
    identity = exchange.identity
    response = decision_response(wire, runtime.pages, decision, facts, identity.user if identity else None)
    if identity is not None and identity.credential == "bearer":
        authority = _authority(facts.host, forwarded.authority)
        scope_challenge(response, wire, facts, runtime, decision, authority)
    response.headers[REASON_HEADER] = ",".join(reason.value for reason in decision.reasons)
    if decision.route_id is not None:
        response.headers[ROUTE_HEADER] = decision.route_id
    return response


def _refusal_status(decision: Decision, dialect: Dialect) -> int:
    if decision.outcome is Outcome.DENY:
        return 403
    if dialect is Dialect.NGINX and decision.status < 500 and decision.status not in (401, 403):
        return _NGINX_REFUSED  # e.g. 429: nginx would answer 500 for it
    return decision.status


def _allowed(
    wire: Wire, exchange: Exchange, result: AuthResult, runtime: ServerRuntime, auth: AuthRuntime
) -> web.Response:
    facts, decision = exchange.facts, exchange.decision
    headers: CIMultiDict[str] = CIMultiDict()
    if result.identity is not None:
        assert decision.route_id is not None  # an allow always names its route
        route = runtime.snapshot.routes.by_id(decision.route_id)
        # The very mutator the proxy mode runs: same headers, same assertion, same budget.
        exchange.headers_dropped = add_identity(
            headers, facts, route, result, auth, forward_auth=True
        )
    _clean_cookie(headers, wire, runtime, facts.scheme == "https")
    headers[REQUEST_ID_HEADER] = facts.request_id
    headers["Cache-Control"] = _NO_STORE
    return web.Response(status=200, headers=headers)


def _clean_cookie(
    headers: CIMultiDict[str], wire: Wire, runtime: ServerRuntime, secure: bool
) -> None:
    """The client's `Cookie` without the gateway's session and login cookies, for the
    proxy to send upstream instead of the client's (no header: send none).

    The proxy mode's own `strip_cookie`, so both modes keep the same bytes: every
    `Cookie` header folded, `__Host-`/`__Secure-` variants removed, quoted values kept.
    A regex in the proxy's config would miss a second `Cookie` header or a prefix
    variant, and the upstream must never see the session id (it could replay it).
    """
    cookies: CIMultiDict[str] = CIMultiDict(
        (COOKIE, value) for value in wire.headers.getall(COOKIE, ())
    )
    strip_cookie(cookies, *gateway_cookies(runtime.snapshot.config.sessions, secure))
    if COOKIE in cookies:
        headers[COOKIE] = cookies[COOKIE]


def _login(
    wire: Wire,
    facts: RequestFacts,
    decision: Decision,
    runtime: ServerRuntime,
    forwarded: Forwarded,
) -> web.Response:
    """As `answers.login_response`, on the authorized request's URL and method."""
    assert decision.route_id is not None  # a login decision always names its route
    route = runtime.snapshot.routes.by_id(decision.route_id)
    methods = route.config.authenticate
    bearer = BearerChallenge.of(route, facts.scheme, _authority(facts.host, forwarded.authority))
    challenge = auth_challenge(decision, bearer)
    if "session" in methods and _navigation(wire, facts):
        params = {"rd": _original_url(facts, forwarded)}  # checked again at start
        if decision.outcome is Outcome.STEP_UP:
            params.update({"step_up": "1", **dict(decision.extra)})
        origin = _origin(facts, forwarded)
        return _send_to(f"{origin}{START_PATH}?{urlencode(params)}", facts, forwarded, challenge)
    response = decision_response(wire, runtime.pages, decision, facts)
    response.headers["WWW-Authenticate"] = challenge
    return response


def _navigation(wire: Wire, facts: RequestFacts) -> bool:
    # The auth call's own method is GET for Traefik and Caddy: the navigation test
    # must look at the method of the request being authorized.
    return facts.method in ("GET", "HEAD") and is_browser_navigation(wire)


def _send_to(
    location: str, facts: RequestFacts, forwarded: Forwarded, challenge: str | None
) -> web.Response:
    headers = {
        "Location": location,
        "Cache-Control": _NO_STORE,
        REQUEST_ID_HEADER: facts.request_id,
    }
    if forwarded.dialect is Dialect.FORWARD:
        return web.Response(status=302, headers=headers)
    # auth_request can't pass a 302 on: the recipe's error_page 401 reads Location.
    headers["WWW-Authenticate"] = challenge or 'Session realm="authgate"'
    return web.Response(status=401, headers=headers)


def _origin(facts: RequestFacts, forwarded: Forwarded) -> str:
    return f"{facts.scheme}://{_authority(facts.host, forwarded.authority)}"


def _original_url(facts: RequestFacts, forwarded: Forwarded) -> str:
    url = _origin(facts, forwarded) + facts.path
    return f"{url}?{facts.query}" if facts.query else url


def _authority(host: str, raw: str) -> str:
    """The normalized host with the port the client used (validated with the host)."""
    port = "" if raw.endswith("]") or ":" not in raw else raw.rpartition(":")[2]
    return f"{host}:{port}" if port else host
