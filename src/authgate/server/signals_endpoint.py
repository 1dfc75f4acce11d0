"""`POST /.authgate/signals/<provider>`: push delivery of Security Event Tokens.

Contract (RFC 8935): the transmitter of a provider whose `signals.delivery` is
`push` POSTs one SET as the body, `Content-Type: application/secevent+jwt` (§2.1).
The answer is `202 Accepted` with no body once every event in it was carried out
(§2.2; `signals.receive`), or `400` with `{"err", "description", "request_id"}` (§2.3)
and the §2.4 `err` code (`signals.verify.push_error`): a bad signature, key or
algorithm is `invalid_key`, another issuer `invalid_issuer`, another audience
`invalid_audience`, a missing or wrong `Authorization` (with `signals.push_token`)
`authentication_failed`, anything else — a replayed `jti`, a SET too old, a body
that is not a SET — `invalid_request`. A refused SET changes nothing. The
transmitter's metadata or keys not readable is 502, the store down 503: both ask the
transmitter to retry later (§2.3 leaves other statuses to HTTP). A provider without
push delivery is 404, another method 405. Each answer has its decision record; each
event carried out has one more (`signals.records`).
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web

from authgate.bounded_read import read_at_most
from authgate.decision import Outcome, Reason, reason_of
from authgate.outcomes import endpoint
from authgate.oidc.errors import ProviderError, TokenInvalid
from authgate.server.answers import decision_response
from authgate.decisionlog.record import DecisionRecord
from authgate.ops.metrics import METRICS
from authgate.server.auth_state import AuthRuntime, auth_of
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.state import DECISION_LOG, ServerRuntime
from authgate.sessions.store import StoreUnavailable
from authgate.signals.receive import Receiver, receive
from authgate.signals.records import Delivery
from authgate.signals.transmitter import Transmitter
from authgate.signals.verify import push_error

log = logging.getLogger(__name__)
PATH = "/.authgate/signals/"
CONTENT_TYPE = "application/secevent+jwt"  # RFC 8417 §7.2, RFC 8935 §2.1
_MAX_SET = 64 * 1024  # a SET is a few hundred bytes to a few KB
_NAME = "signals"


def signal_receiver(app: web.Application, auth: AuthRuntime) -> Receiver:
    """Events take effect on `auth`'s store and channel; their records go to the
    decision log, and each counts in `authgate_signals_total`."""

    def sink(record: DecisionRecord) -> None:
        # Not `Metrics.observe`: an event is not a request, and has no latency.
        app[DECISION_LOG].submit(record)
        event = (record.rule or "").removeprefix("signal:")
        app[METRICS].signals.labels(record.provider or "", event, record.reason).inc()

    return Receiver(auth.store, auth.events.publish, sink)


def _refused(exchange: Exchange, reason: Reason) -> web.Response:
    # The description is the reason code: it never echoes the SET or its claims.
    exchange.decision = endpoint(_NAME, reason, Outcome.DENY)
    body = {"err": push_error(reason.value), "description": reason.value, "request_id": exchange.facts.request_id}
    return web.Response(
        status=exchange.decision.status,
        text=json.dumps(body),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _failed(request: web.Request, exchange: Exchange, runtime: ServerRuntime, reason: Reason) -> web.StreamResponse:
    exchange.decision = endpoint(_NAME, reason, Outcome.ERROR)
    return decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)


def _authenticated(request: web.Request, transmitter: Transmitter) -> bool:
    token = transmitter.config.push_token
    if token is None:
        return True  # the SET's signature is its authentication (docs/continuous.md)
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def signals_push(request: web.Request, exchange: Exchange, runtime: ServerRuntime) -> web.StreamResponse:
    auth = auth_of(request)
    transmitter = auth.signals.get(exchange.facts.path.removeprefix(PATH))
    if transmitter is None or transmitter.config.delivery != "push":
        exchange.decision = endpoint(_NAME, Reason.ENDPOINT_NOT_FOUND, Outcome.DENY)
        return decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)
    if request.method != "POST":
        exchange.decision = endpoint(_NAME, Reason.METHOD_NOT_ALLOWED, Outcome.DENY, extra=(("allow", "POST"),))
        return decision_response(wire_of(request), runtime.pages, exchange.decision, exchange.facts)
    if not _authenticated(request, transmitter):
        return _refused(exchange, Reason.SIGNAL_AUTHENTICATION_FAILED)
    if request.content_type != CONTENT_TYPE:
        return _refused(exchange, Reason.SIGNAL_INVALID)  # §2.1
    body = await read_at_most(request.content, _MAX_SET)
    if len(body) > _MAX_SET or not body.strip() or not body.isascii():
        return _refused(exchange, Reason.SIGNAL_INVALID)
    return await _receive(request, exchange, runtime, transmitter, body.decode().strip())


async def _receive(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime, transmitter: Transmitter, token: str
) -> web.StreamResponse:
    facts = exchange.facts
    delivery = Delivery(facts.request_id, facts.method, facts.host, facts.path, facts.client_ip)
    try:
        await receive(token, transmitter, signal_receiver(request.app, auth_of(request)), delivery)
    except TokenInvalid as invalid:
        log.info("SET refused from %s: %s", transmitter.provider.id, invalid.reason)
        return _refused(exchange, reason_of(invalid.reason, Reason.TOKEN_MALFORMED))
    except ProviderError as error:
        log.warning("SET from %s not checked: %s", transmitter.provider.id, error)
        return _failed(request, exchange, runtime, reason_of(error.reason, Reason.PROVIDER_UNREACHABLE))
    except StoreUnavailable:
        return _failed(request, exchange, runtime, Reason.STORE_UNAVAILABLE)
    exchange.decision = endpoint(_NAME, Reason.SIGNAL_ACCEPTED)
    return web.Response(status=202, headers={"Cache-Control": "no-store"})
