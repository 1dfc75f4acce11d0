"""One request on the data plane: facts, the verdict, the answer or the relay, the record.

Contract: `serve_request(client, incoming)` is the task of one request. It pins the
config generation current at its start (the runtime and the auth runtime read once,
and counted in flight under it for hot reloads), builds the `Wire` — the one place
the data plane's parse becomes the pipeline's input — and calls `server.verdict.judge`,
the same call the aiohttp front end makes. It leaves exactly one decision record
whatever happens, with the status the client got: the gateway's answer, the
upstream's status, 499 when the client left first, 502 `upstream-aborted` /
`upstream-timeout` when the upstream broke off mid-body; a forward decided on a session
follows it while it streams (`server.following`: cut when the session ends). No exception text reaches
the client: a failure inside the gateway is a 500 page with the request id.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from authgate.conn.refusals import BodyRefused
from authgate.dataplane.framing import answer_bytes
from authgate.dataplane.pool import PoolKey
from authgate.dataplane.relay import Ending, Outbound, Relay, Timeouts, UpstreamFailed
from authgate.decision import Reason
from authgate.ops.inflight import IN_FLIGHT
from authgate.outcomes import ABORTED_STATUS
from authgate.server.auth_state import AuthRuntime
from authgate.server.exchange import Exchange
from authgate.server.following import cut_stream, following
from authgate.server.request_scope import CLIENT_CLOSED, close_exchange, open_exchange
from authgate.server.state import GENERATION, LIVE_SESSIONS, ServerRuntime, UpstreamTarget
from authgate.server.verdict import (
    Answer,
    Forward,
    body_refused,
    judge,
    shed,
    upstream_failed,
)
from authgate.wire import Wire

if TYPE_CHECKING:
    from authgate.dataplane.protocol import DataPlaneProtocol, Incoming

log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"http": 80, "https": 443}


async def serve_request(client: DataPlaneProtocol, incoming: Incoming) -> None:
    app = client.app
    inflight = app[IN_FLIGHT]
    generation = app[GENERATION]  # read once: the whole request uses this generation
    inflight.enter(generation.number)
    runtime, auth = generation.server, generation.auth
    wire = Wire(
        method=incoming.method,
        raw_target=incoming.target,
        version=incoming.version,
        headers=incoming.headers,
        peer=client.peer,
        secure=client.secure,
        listener_port=client.listener_port,
        ssl_object=client.ssl_object,
    )
    exchange, problem, scope = open_exchange(wire, runtime, auth)
    keep_alive = False
    try:
        keep_alive = await _serve(client, incoming, wire, exchange, runtime, auth, problem)
    except Exception:
        log.exception("request %s failed inside the gateway", exchange.facts.request_id)
        if not client.answer_started:
            failed = upstream_failed(wire, exchange, runtime, Reason.GATEWAY_ERROR)
            _write(client, incoming, failed, keep_alive=False)
        else:
            exchange.fail(Reason.GATEWAY_ERROR)
            client.abort()
    finally:
        close_exchange(app, exchange, runtime, scope)
        inflight.leave(generation.number)
        client.finished(incoming, keep_alive)


async def _serve(
    client: DataPlaneProtocol,
    incoming: Incoming,
    wire: Wire,
    exchange: Exchange,
    runtime: ServerRuntime,
    auth: AuthRuntime,
    problem: Reason | None,
) -> bool:
    """Returns whether the connection may carry another request."""
    verdict = await judge(wire, exchange, runtime, auth, problem=problem)
    if client.lost:
        return False  # recorded as 499: nobody is left to answer
    if isinstance(verdict, Answer):
        return _write(client, incoming, verdict)
    if not isinstance(verdict, Forward):
        # Endpoints and upgrades were handed to aiohttp before judging
        # (`handover.needs_aiohttp`); reaching here is the gateway's bug.
        raise RuntimeError(f"the data plane cannot serve {type(verdict).__name__}")
    if not client.limit_body(incoming, verdict.max_body):
        return _refuse_body(client, incoming, wire, exchange, runtime)
    gate = auth.guards.gates.gate(verdict.gate_key)
    if not gate.try_enter():
        return _write(client, incoming, shed(wire, exchange, runtime))
    exchange.upstream_started = time.monotonic()
    relay = Relay(client, client.server.pool, _outbound(incoming, verdict), _timeouts(verdict.target))
    try:
        relay.take_body(client.take_body(incoming, relay), done=incoming.body_done)
        client.answer_started = False
        cut = cut_stream(exchange, relay.cut)
        with following(client.app[LIVE_SESSIONS], exchange, verdict.route.id, cut):
            ending = await relay.run()
    except UpstreamFailed as failure:
        if incoming.refused is not None:
            return _refuse_body(client, incoming, wire, exchange, runtime)
        return _write(client, incoming, upstream_failed(wire, exchange, runtime, failure.reason, failure.status))
    finally:
        gate.leave()
        exchange.upstream_ended = time.monotonic()
    exchange.upstream_status = relay.upstream_status
    if ending is Ending.COMPLETE:
        assert relay.upstream_status is not None
        exchange.status = relay.upstream_status
        return relay.keep_alive and incoming.body_done and incoming.refused is None
    if ending is Ending.CUT:  # the session ended: the record has the decision and status
        return False
    if ending is Ending.CLIENT_GONE:
        exchange.status = CLIENT_CLOSED  # nginx's 499: nothing failed here
        return False
    if ending is Ending.BODY_REFUSED:
        if relay.upstream_status is None:
            return _refuse_body(client, incoming, wire, exchange, runtime)
        assert incoming.refused is not None
        # Its status is the table's: 413 too large, 408 too slow (the record says which).
        exchange.status = exchange.fail(incoming.refused).status
        return False
    # The client got a status line and a cut connection (RFC 9112 §8): the record says
    # the upstream failed, with what it had started to send.
    reason = Reason.UPSTREAM_TIMEOUT if ending is Ending.UPSTREAM_TIMEOUT else Reason.UPSTREAM_ABORTED
    exchange.status = exchange.fail(reason, ABORTED_STATUS).status
    return False


def _refuse_body(
    client: DataPlaneProtocol, incoming: Incoming, wire: Wire, exchange: Exchange, runtime: ServerRuntime
) -> bool:
    # The route's limit or the body timers keep the route; a body that broke its
    # framing is refused as a bad head (no route): `server.body_limit`.
    refusal = body_refused(wire, exchange, runtime, BodyRefused(incoming.refused or Reason.BODY_TOO_LARGE))
    _write(client, incoming, refusal, keep_alive=False)
    return False


def _write(client: DataPlaneProtocol, incoming: Incoming, answer: Answer, *, keep_alive: bool = True) -> bool:
    """Send the gateway's own answer; returns whether the connection stays open."""
    keep = (
        keep_alive and incoming.keep_alive and incoming.body_done
        and incoming.refused is None and not answer.closes
    )  # fmt: skip
    client.answer_started = True
    client.write(answer_bytes(answer.response, keep_alive=keep, head_only=incoming.method == "HEAD"))
    return keep


def _outbound(incoming: Incoming, forward: Forward) -> Outbound:
    target = forward.target
    host = target.host.strip("[]")  # UpstreamTarget brackets IPv6 for URLs
    port = target.port or _DEFAULT_PORTS[target.scheme]
    headers = list(forward.headers.items())
    if "Host" not in forward.headers:
        # The upstream's own authority (nginx's `proxy_set_header Host $proxy_host`);
        # `preserve_host` routes carry the client's in the headers already.
        default = port == _DEFAULT_PORTS[target.scheme]
        headers.insert(0, ("Host", target.host if default else f"{target.host}:{port}"))
    return Outbound(
        key=PoolKey(target.scheme, host, port),
        method=incoming.method,
        target=forward.target_path,
        headers=headers,
        framing=incoming.framing,
        length=incoming.length,
        expect_continue=incoming.expect_continue,
        client_http11=incoming.version == (1, 1),
        client_keep_alive=incoming.keep_alive,
        extra=forward.response_headers,
    )


def _timeouts(target: UpstreamTarget) -> Timeouts:
    timeout = target.timeout
    return Timeouts(
        connect=timeout.connect or 5.0,
        read=timeout.sock_read or 60.0,
        total=timeout.total,
    )
