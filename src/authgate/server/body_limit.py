"""A route's request body limit, and the answer when a client's body is refused.

Contract: `body_limit(route, runtime)` is a route's limit (its `max_body`, or
`server.max_body`); `declared_too_large(wire, limit)` says whether the declared
`Content-Length` is over it, which is refused before the upstream is contacted, so it
sees none of it (RFC 9110 §15.5.14). `limit_stream(request, limit)` hands the limit
to the aiohttp connection, which counts a chunked body as it streams
(`conn.limits.BodyLimited`). `body_refused_response` answers a
`BodyRefused` raised by whoever read the body (413, or 408 for a body too slow),
keeps the route and rule in the decision, and closes the connection: the rest of
the body is never read, so the connection cannot carry another request. A body that
broke its framing (a bad chunk, chunk extensions past their bound: 400) is refused
as the parser refuses a bad head — no route, whatever was judged of its head — on
both front ends.
`expect_continue` is the route's `Expect` handler: it asks for the body (100
Continue) only when it can be accepted.
"""

from __future__ import annotations


from aiohttp import web
from aiohttp.http import HttpVersion11

from authgate.conn.limits import BodyLimited
from authgate.conn.refusals import BodyRefused
from authgate.decide import refuse_request
from authgate.decision import Reason
from authgate.outcomes import refusal
from authgate.routing import Route
from authgate.server.answers import decision_response
from authgate.server.exchange import Exchange
from authgate.server.pages import PageRenderer
from authgate.server.state import ServerRuntime, runtime_of
from authgate.wire import Wire

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BODY_LIMITS = frozenset({Reason.BODY_TOO_LARGE, Reason.BODY_TIMEOUT, Reason.BODY_TOO_SLOW})


def body_limit(route: Route, runtime: ServerRuntime) -> int:
    return route.config.max_body or runtime.snapshot.config.server.max_body


def declared_too_large(wire: Wire, limit: int) -> bool:
    length = wire.content_length()
    return length is not None and length > limit


def limit_stream(request: web.Request, limit: int) -> None:
    """Count the body as it streams; raise a refusal already made before routing."""
    protocol = request.protocol
    if isinstance(protocol, BodyLimited):
        protocol.limit_body(request.content, limit)
    failure = request.content.exception()
    if isinstance(failure, BodyRefused):  # already over it (or too slow) before routing
        raise failure


def body_refused_response(
    wire: Wire, pages: PageRenderer, exchange: Exchange, refused: BodyRefused
) -> web.Response:
    before = exchange.decision
    if refused.reason in _BODY_LIMITS:  # the route's limit or the body timers
        exchange.decision = refusal(refused.reason, route_id=before.route_id, rule=before.rule)
    else:  # the request was never a valid one
        exchange.decision = refuse_request(refused.reason)
    response = decision_response(wire, pages, exchange.decision, exchange.facts)
    response.force_close()
    return response


async def expect_continue(request: web.Request) -> None:
    """RFC 9110 §10.1.1: `100 Continue` invites the body, so none is sent for a
    declared length over what any route accepts — the handler answers 413 (with its
    record) before the client sends a byte of it. Other expectations are ignored (417
    is a MAY) rather than refused without a record; `Expect` never goes upstream.
    """
    expect = request.headers.get("Expect", "").lower()
    if request.version != HttpVersion11 or expect != "100-continue":
        return
    length = request.content_length
    if length is not None and length > runtime_of(request).connection_limits.max_body:
        return
    await request.writer.write(_CONTINUE)
    request.writer.output_size = 0  # what follows is the response itself, as aiohttp does
