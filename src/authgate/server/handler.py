"""The request handler: facts → identity → decision → enforce → record.

Contract: every request leaves exactly one decision record, whatever happens —
refusal, login, upstream failure, client disconnect or a bug (the `finally` below).
The decision object that is enforced is the one that is logged (`Exchange`). No
exception text reaches the client: failures render through `answers`. Every answer
the gateway writes itself gets the browser hardening headers (`page_headers`). Requests for
`/.authgate/*` on a routed host go to the gateway's own endpoints; `/.authgate/auth`
on any host is a proxy's forward-auth call (`server/forward_auth.py`). A request
carrying a credential twice is refused before anything reads one.
"""

from __future__ import annotations

import logging

from aiohttp import web

from authgate.conn.refusals import BodyRefused
from authgate.decide import refuse_request
from authgate.decision import Decision, Outcome, Reason
from authgate.ops.logs import REQUEST_ID
from authgate.ops.metrics import METRICS
from authgate.proxy.forward import ClientGone, UpstreamAborted
from authgate.server.answers import consent_response, decision_response, login_response
from authgate.server.authenticate import AuthResult, duplicated_credential
from authgate.server.body_limit import body_refused_response
from authgate.server.cookies import clear_session_cookie
from authgate.server.endpoints import PREFIX, serve_endpoint
from authgate.server.exchange import Exchange
from authgate.server.facts import gather_facts
from authgate.server.forward_auth import forward_auth, is_forward_auth
from authgate.server.forwarding import forward
from authgate.server.page_headers import secure_answer
from authgate.server.pipeline import evaluate
from authgate.server.state import DECISION_LOG, ServerRuntime, generation_of

log = logging.getLogger(__name__)
CLIENT_CLOSED = 499
UPSTREAM_ABORTED_STATUS = 502


async def handle(request: web.Request) -> web.StreamResponse:
    # The generation pinned at the start (ops.inflight): the whole request uses it.
    runtime = generation_of(request).server
    facts, problem = gather_facts(request, runtime)
    exchange = Exchange(facts)
    # 499 (nginx's "client closed request") stays only if the client went away
    # (the handler is cancelled) before any answer was chosen.
    exchange.status = CLIENT_CLOSED
    logged_as = REQUEST_ID.set(facts.request_id)  # every log line of this request names it
    try:
        try:
            response = await _serve(request, exchange, problem, runtime)
        except BodyRefused as refused:  # too slow or too large: the client's, not ours
            response = body_refused_response(request, exchange, refused)
        except ClientGone as gone:
            # Logged as nginx's 499, not as a gateway error: nothing failed here.
            exchange.status = CLIENT_CLOSED
            exchange.upstream_status = gone.response.status  # the upstream did answer
            return gone.response
        except UpstreamAborted as aborted:
            # The client got a status line and a cut connection, not that status: the
            # record says the upstream failed, with what it had started to send.
            exchange.status = exchange.fail(aborted.reason, UPSTREAM_ABORTED_STATUS).status
            exchange.upstream_status = aborted.response.status
            return aborted.response
        except Exception:
            log.exception("request %s failed inside the gateway", facts.request_id)
            failed = exchange.fail(Reason.GATEWAY_ERROR, 500)
            response = decision_response(request, failed, facts)
        if not response.prepared:  # the gateway's own answer, not a proxied one
            response.headers.update(exchange.response_headers)
            secure_answer(response.headers, runtime.pages.content_security_policy)
        exchange.status = response.status
        return response
    finally:
        record = exchange.record()
        request.app[DECISION_LOG].submit(record)
        request.app[METRICS].observe(record)
        REQUEST_ID.reset(logged_as)


async def _serve(
    request: web.Request, exchange: Exchange, problem: Reason | None, runtime: ServerRuntime
) -> web.StreamResponse:
    facts = exchange.facts
    if is_forward_auth(facts):  # before the Host check: proxies call it by any name
        return await forward_auth(request, exchange, runtime)
    if problem is None and duplicated_credential(request, runtime.snapshot.config, facts.scheme == "https"):
        # Before any validation, on every route (docs/headers.md; Envoy CVE-2021-32777).
        problem = Reason.DUPLICATE_CREDENTIALS
    if problem is not None:
        exchange.decision = refuse_request(problem)
        return decision_response(request, exchange.decision, facts)
    routes = runtime.snapshot.routes
    if facts.path.startswith(PREFIX) and routes.serves_host(facts.host):
        return await serve_endpoint(request, exchange, runtime)
    auth = await evaluate(request, exchange, runtime)
    return await _enforce(request, exchange, auth, runtime)


async def _enforce(
    request: web.Request, exchange: Exchange, auth: AuthResult, runtime: ServerRuntime
) -> web.StreamResponse:
    decision: Decision = exchange.decision
    if decision.allowed:
        return await forward(request, exchange, auth, runtime)
    if decision.outcome in (Outcome.LOGIN, Outcome.STEP_UP):
        assert decision.route_id is not None  # a login decision always names its route
        methods = runtime.snapshot.routes.by_id(decision.route_id).config.authenticate
        response = login_response(request, exchange.facts, decision, methods)
        if auth.stale_cookie:  # a bad or ended session cookie: the browser drops it
            secure = exchange.facts.scheme == "https"
            clear_session_cookie(response, runtime.snapshot.config.sessions, secure)
        return response
    if Reason.CONSENT_REQUIRED in decision.reasons:
        return consent_response(request, exchange.facts, decision)
    identity = exchange.identity
    if identity is None:
        return decision_response(request, decision, exchange.facts)
    session = identity.session_id if identity.credential == "session" else None
    return decision_response(request, decision, exchange.facts, identity.user, session)
