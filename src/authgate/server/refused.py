"""Answer and record a request refused at the connection level.

Contract: `Refused` names a refusal (`conn.refusals` chose the reason) with what is
known of the request: its first line's method and target, and its headers when the
parser got that far. `answer_refused(app, refused, ...)` builds the facts, leaves
exactly one decision record (the same `Exchange` → `DecisionRecord` path as the
handler) and returns the JSON answer with the request id; the connection closes
after it. No parser message or exception text reaches the client (CWE-209).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiohttp import web
from multidict import CIMultiDictProxy

from authgate.client_ip import client_ip
from authgate.conn.refusals import RequestHint
from authgate.decision import Decision, Reason
from authgate.facts import RequestFacts
from authgate.outcomes import refusal
from authgate.ops.metrics import METRICS
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.request_id import request_id
from authgate.server.answers import refusal_response
from authgate.server.exchange import Exchange
from authgate.server.facts import resolve_target
from authgate.server.page_headers import secure_answer
from authgate.server.state import DECISION_LOG, GENERATION

CLOSED_UNANSWERED = 444  # nginx's code for "closed the connection without a response"
# RFC 9110 §15.5.6: a 405 lists the methods that are served; CONNECT is never one.
_SERVED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


class Refused(Exception):
    """A request (or a connection) refused before the handler; see `conn.refusals`."""

    def __init__(
        self,
        reason: Reason,
        hint: RequestHint,
        headers: CIMultiDictProxy[str] | None = None,
    ) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.hint = hint
        self.headers = headers
        self.started = time.monotonic()
        self.time = time.time()


def answer_refused(
    app: web.Application, refused: Refused, *, peer: str, secure: bool
) -> web.Response:
    """Record the refusal and return its answer (JSON, closing the connection)."""
    facts, decision = record_refused(app, refused, peer=peer, secure=secure)
    response = refusal_response(decision, facts)
    secure_answer(response.headers, app[GENERATION].server.pages.content_security_policy)
    return response


def record_refused(
    app: web.Application, refused: Refused, *, peer: str, secure: bool, answered: bool = True
) -> tuple[RequestFacts, Decision]:
    """Leave the refusal's one decision record; `answered=False` for a connection
    closed without an answer (recorded with nginx's 444 as what the client got)."""
    facts = _facts(app, refused, peer, secure)
    allow = (("allow", _SERVED_METHODS),) if refused.reason is Reason.METHOD_NOT_ALLOWED else ()
    decision = refusal(refused.reason, extra=allow)
    status = decision.status if answered else CLOSED_UNANSWERED
    record = Exchange(facts, decision, status=status).record()
    app[DECISION_LOG].submit(record)
    app[METRICS].observe(record)
    return facts, decision


def _facts(app: web.Application, refused: Refused, peer: str, secure: bool) -> RequestFacts:
    runtime = app[GENERATION].server
    trusted = runtime.trusted.contains(peer)
    headers = refused.headers
    hosts: Sequence[str] = headers.getall("Host", []) if headers is not None else ()
    target = resolve_target(hosts, refused.hint.target) if headers is not None else None
    forwarded = headers.getall("X-Forwarded-For", []) if headers is not None else []
    return RequestFacts(
        request_id=request_id(headers.get(REQUEST_ID_HEADER) if headers else None, trusted),
        method=refused.hint.method,
        scheme="https" if secure else "http",
        host=target.host if target else "",
        raw_target=refused.hint.target,
        path=target.path if target else "",
        query=target.query if target else "",
        client_ip=client_ip(peer, forwarded, runtime.trusted),
        peer_ip=peer,
        peer_trusted=trusted,
        started=refused.started,
        time=refused.time,
    )
