"""The request handler: facts → identity → decision → enforce → record.

Contract: every request leaves exactly one decision record, whatever happens —
refusal, login, upstream failure, client disconnect or a bug (the `finally` below).
The decision object that is enforced is the one that is logged (`Exchange`). No
exception text reaches the client: failures render through `answers`. Every answer
the gateway writes itself gets the browser hardening headers (`page_headers`). The
request is read once, into a `Wire` (`server/edge.py`); `/.authgate/auth` on any host
is a proxy's forward-auth call (`server/forward_auth.py`); everything else is judged
by `server/verdict.py` — the call the data plane makes too — and its verdict is
carried out here: an answer returned, a forward or upgrade relayed through aiohttp,
`/.authgate/*` on a routed host served by the gateway's own endpoints.
"""

from __future__ import annotations

import logging

from aiohttp import web

from authgate.conn.refusals import BodyRefused
from authgate.decision import Reason
from authgate.outcomes import ABORTED_STATUS
from authgate.proxy.forward import ClientGone, UpstreamAborted
from authgate.server.auth_state import AuthRuntime
from authgate.server.edge import wire_of
from authgate.server.endpoints import serve_endpoint
from authgate.server.exchange import Exchange
from authgate.server.forward_auth import forward_auth, is_forward_auth
from authgate.server.forwarding import forward, upgrade
from authgate.server.page_headers import secure_answer
from authgate.server.request_scope import CLIENT_CLOSED, close_exchange, open_exchange
from authgate.server.state import ServerRuntime, generation_of
from authgate.server.verdict import Answer, Endpoint, Forward, body_refused, judge, upstream_failed
from authgate.wire import Wire

log = logging.getLogger(__name__)


async def handle(request: web.Request) -> web.StreamResponse:
    # The generation pinned at the start (ops.inflight): the whole request uses it.
    generation = generation_of(request)
    runtime, auth = generation.server, generation.auth
    wire = wire_of(request)
    # 499 stays only if the client went away (the handler is cancelled) before any
    # answer was chosen; every log line of this request names it.
    exchange, problem, scope = open_exchange(wire, runtime, auth)
    facts = exchange.facts
    try:
        try:
            response = await _serve(request, wire, exchange, problem, runtime, auth)
        except BodyRefused as refused:  # too slow or too large: the client's, not ours
            response = body_refused(wire, exchange, runtime, refused).response
        except ClientGone as gone:
            # Logged as nginx's 499, not as a gateway error: nothing failed here.
            exchange.status = CLIENT_CLOSED
            exchange.upstream_status = gone.response.status  # the upstream did answer
            return gone.response
        except UpstreamAborted as aborted:
            # The client got a status line and a cut connection, not that status: the
            # record says the upstream failed, with what it had started to send.
            exchange.status = exchange.fail(aborted.reason, ABORTED_STATUS).status
            exchange.upstream_status = aborted.response.status
            return aborted.response
        except Exception:
            log.exception("request %s failed inside the gateway", facts.request_id)
            response = upstream_failed(wire, exchange, runtime, Reason.GATEWAY_ERROR).response
        if not response.prepared:  # the gateway's own answer, not a proxied one
            response.headers.update(exchange.response_headers)
            secure_answer(response.headers, runtime.pages.content_security_policy)
        exchange.status = response.status
        return response
    finally:
        close_exchange(request.app, exchange, runtime, scope)


async def _serve(
    request: web.Request,
    wire: Wire,
    exchange: Exchange,
    problem: Reason | None,
    runtime: ServerRuntime,
    auth: AuthRuntime,
) -> web.StreamResponse:
    if is_forward_auth(exchange.facts):  # before the Host check: proxies call it by any name
        return await forward_auth(request, exchange, runtime)
    verdict = await judge(wire, exchange, runtime, auth, problem=problem)
    if isinstance(verdict, Answer):
        return verdict.response
    if isinstance(verdict, Forward):
        return await forward(request, exchange, verdict, runtime, auth)
    if isinstance(verdict, Endpoint):
        return await serve_endpoint(request, exchange, runtime)
    return await upgrade(request, exchange, verdict, runtime)
