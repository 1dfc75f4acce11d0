"""aiohttp glue: the public listener's connections run `authgate.conn`'s policy.

Contract: `GatewayRunner` is an `AppRunner` whose connections are `GatewayProtocol`,
aiohttp's `RequestHandler` with the connection level of docs/limits.md added:

* the read timers of `conn.clock` (header read, idle, body stall and rate) — aiohttp's
  own keep-alive timer is off, the clock owns the connection's idle time;
* the per-peer connection cap (`conn.peers`), one table per worker;
* the header budget (counted while the head arrives, then exactly) and the parser's
  size limits, from the config snapshot current when the connection is made;
* the body limit (`conn.refusals.BodyRefused` raised to the body's reader);
* every request the parser refuses, or that this level refuses, answered by the
  gateway (`server/refused.py`: JSON with a request id, a decision record) instead of
  aiohttp's plain-text 400 — through aiohttp's own error path (`handle_error`), so
  earlier pipelined requests are answered first and the connection then closes.

This module reads aiohttp 3.14 internals (`_messages`, `_waiter`, `_ErrInfo`,
`_lingering_time`, `Server._kwargs`); the raw-socket tests in tests/hardening/ pin
the behaviour, and a data plane of our own replaces this module alone.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiohttp import web
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, HttpProcessingError, LineTooLong
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import ERROR, RequestHandler, _ErrInfo
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from authgate.conn.absolute_form import OriginForm, origin_form
from authgate.conn.clock import Phase, ReadClock
from authgate.conn.limits import ConnectionLimits
from authgate.conn.peers import Admission, PeerTable
from authgate.conn.linger import Linger
from authgate.conn.timer import CoarseTimer
from authgate.conn.refusals import (
    BodyRefused,
    ParseError,
    RequestHint,
    check_head,
    classify_parse_error,
    header_section_bytes,
)
from authgate.decision import Reason
from authgate.server.refused import Refused, answer_refused, record_refused
from authgate.server.state import GENERATION

# aiohttp's keep-alive timer would close a connection mid-head without an answer;
# the clock's idle timer replaces it (a value aiohttp never reaches).
_KEEPALIVE_OFF = 365 * 86400.0
_PREFIX_BYTES = 512  # the first bytes of a request, for its record and its refusal
_ERROR_11 = ERROR._replace(version=HttpVersion11)


class GatewayRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # the app frozen, its handler args merged
        if self.app[GENERATION].snapshot.config.server.data_plane == "native":
            # The data plane's protocols; they hand aiohttp what is aiohttp's.
            from authgate.dataplane.server import DataPlaneServer  # imports this module

            return DataPlaneServer(plain, self.app)
        return GatewayServer(plain, self.app)


class GatewayServer(web.Server):
    """aiohttp's `Server` making `GatewayProtocol`s, with the worker's peer table."""

    def __init__(self, plain: web.Server, app: web.Application) -> None:
        make_request = plain.request_factory

        def request_factory(message: RawRequestMessage, *args: Any) -> BaseRequest:
            # aiohttp answers a parser error as HTTP/1.0 (no `Connection: close`);
            # the gateway's refusals are HTTP/1.1 answers that say they close.
            return make_request(_ERROR_11 if message is ERROR else message, *args)

        super().__init__(
            plain.request_handler,
            request_factory=request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
        self.app = app
        self.peers = PeerTable()

    def __call__(self) -> GatewayProtocol:
        limits = self.app[GENERATION].server.connection_limits
        kwargs: dict[str, Any] = {
            **self._kwargs,
            "keepalive_timeout": _KEEPALIVE_OFF,
            "max_line_size": limits.max_request_line,
            # One field may use the whole budget; the sum is checked apart.
            "max_field_size": limits.max_header_bytes,
            "max_headers": limits.max_headers,
        }
        return GatewayProtocol(self, limits, loop=self._loop, **kwargs)


def _as_origin_form(message: RawRequestMessage, origin: OriginForm) -> RawRequestMessage:
    """`message` as if sent in origin-form with `Host: origin.host` (RFC 9112 §3.2.2),
    so aiohttp's own request (`host`, `url`, `query`) reads what the Wire reads."""
    path, _, query = origin.target.partition("?")
    path, _, fragment = path.partition("#")  # kept for the path rules to refuse
    url = URL.build(path=path, query_string=query, fragment=fragment, encoded=True)
    host, raw_host = origin.host, origin.host.encode("latin-1")
    headers = [(name, host if name.lower() == "host" else value) for name, value in message.headers.items()]
    raw = [(name, raw_host if name.lower() == b"host" else value) for name, value in message.raw_headers]
    if "Host" not in message.headers:  # HTTP/1.0 without Host
        headers.insert(0, ("Host", host))
        raw.insert(0, (b"Host", raw_host))
    return message._replace(
        path=origin.target, url=url, headers=CIMultiDictProxy(CIMultiDict(headers)), raw_headers=tuple(raw)
    )


def _peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unknown"  # a Unix socket: one peer


def _parse_error(exc: BaseException) -> ParseError:
    if isinstance(exc, LineTooLong):
        return ParseError.LINE_TOO_LONG
    if isinstance(exc, BadHttpMethod):  # before BadStatusLine: it is one
        return ParseError.BAD_METHOD
    if isinstance(exc, BadStatusLine):
        return ParseError.BAD_REQUEST_LINE
    text = exc.message if isinstance(exc, HttpProcessingError) else ""
    if "Too many headers" in text:
        return ParseError.TOO_MANY_HEADERS
    if "'Host' header" in text:  # "Duplicate 'Host' header found." / "Missing ..."
        return ParseError.HOST
    return ParseError.OTHER


class GatewayProtocol(RequestHandler):
    __slots__ = (
        "_gateway", "_limits", "_clock", "_peer", "_admission", "_timer",
        "_refusing", "_prefix", "_body", "_body_limit", "_draining", "_linger", "_lingering",
    )  # fmt: skip

    def __init__(self, gateway: GatewayServer, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(gateway, **kwargs)
        self._gateway = gateway
        self._limits = limits
        self._clock = ReadClock(limits.timeouts, 0.0)
        self._peer = "unknown"
        self._admission = Admission.DROPPED  # until placed in the table
        self._timer = CoarseTimer(self._loop, self._expire)
        self._refusing = False  # a refusal is queued: nothing more is read
        self._prefix = b""  # the first bytes of the request whose head is incomplete
        self._body: StreamReader | None = None  # the body being read from the client
        self._body_limit = limits.max_body
        self._draining = False  # answered; aiohttp reads and drops the rest of the body
        self._linger = False  # refused while the client may still send: linger at close
        self._lingering: Linger | None = None  # lingering now (conn.linger)

    # --- the connection ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Duck-typed as the transport (uvloop's are no asyncio.Transport subclasses).
        super().connection_made(cast(asyncio.BaseTransport, _LingeringTransport(transport, self)))
        self._peer = _peer_address(transport)
        trusted = self._gateway.app[GENERATION].server.trusted.contains(self._peer)
        # The per-peer cap (conn.peers): over it, a connection is answered 503 after
        # its request head (or REFUSED_WAIT without one), or dropped at once.
        self._admission = self._gateway.peers.admit(self._peer, self._limits.cap(trusted))
        admitted = self._admission is Admission.ADMITTED
        self._clock = ReadClock(self._limits.timeouts_for(admitted), self._loop.time())
        if self._admission is Admission.DROPPED:
            self._refusing = True
            refused = Refused(Reason.CONNECTIONS_EXCEEDED, RequestHint())
            app, secure = self._gateway.app, self._secure()
            record_refused(app, refused, peer=self._peer, secure=secure, answered=False)
            self.force_close()
            return
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._timer.cancel()
        admission, self._admission = self._admission, Admission.DROPPED
        self._gateway.peers.release(self._peer, admission)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusing:
            if self._lingering is not None:
                self._lingering.received()
            return
        if self._upgraded or self._payload_parser is not None:
            super().data_received(data)  # a WebSocket (or its handshake's tail)
            return
        now = self._loop.time()
        body = self._body
        if body is None and data:
            self._clock.head_received(now, len(data))
            if len(self._prefix) < _PREFIX_BYTES:
                self._prefix += data[: _PREFIX_BYTES - len(self._prefix)]
        count = self._request_count
        super().data_received(data)
        if body is not None:
            self._body_progress(now, body)
        new = self._request_count - count
        if new:
            self._heads_complete(now, new)
        elif body is None and self._clock.head_bytes > self._head_budget():
            # Counted as it arrives, so a 938 KB head is refused at 48 KiB, not parsed.
            self._queue_refusal(classify_parse_error(ParseError.LINE_TOO_LONG, self._prefix))
        self._arm()

    def pause_reading(self) -> None:
        super().pause_reading()
        self._clock.paused(self._loop.time())  # backpressure: not the client's time

    def resume_reading(self, resume_parser: bool = True) -> None:
        self._clock.resumed(self._loop.time())
        super().resume_reading(resume_parser)
        self._arm()

    # --- requests ---------------------------------------------------------------

    def _heads_complete(self, now: float, new: int) -> None:
        """`new` messages were parsed: refuse the ones this level refuses."""
        prefix, self._prefix = self._prefix, b""
        messages = self._messages
        for index in range(len(messages) - new, len(messages)):
            message, payload = messages[index]
            checked = self._checked(message, prefix)
            if isinstance(checked, Refused):
                messages[index] = (_ErrInfo(0, checked, ""), payload)
                self._refusing = self._linger = True
                break
            messages[index] = (checked, payload)  # origin-form (RFC 9112 §3.2.2)
        last = messages[-1][1]
        has_body = last is not EMPTY_PAYLOAD and not last.is_eof() and not self._refusing
        self._clock.head_complete(now, body=has_body)
        self._body = last if has_body else None
        self._body_limit = self._limits.max_body  # until the route's is known
        self._draining = False
        if has_body:
            self._body_progress(now, last)

    def _checked(self, message: object, prefix: bytes) -> Refused | RawRequestMessage:
        """The message as the gateway serves it (origin-form), or its refusal."""
        if isinstance(message, _ErrInfo):
            parsed = classify_parse_error(_parse_error(message.exc), prefix)
            return Refused(parsed, RequestHint.read(prefix))
        assert isinstance(message, RawRequestMessage)
        version = (message.version.major, message.version.minor)
        reason = check_head(
            message.method,
            version,
            message.path,
            header_section_bytes(message.raw_headers),
            self._limits.max_header_bytes,
        )
        checked = message
        if reason is None and not message.path.startswith("/"):
            rewritten = origin_form(message.path, message.headers.getall("Host", []), version)
            if isinstance(rewritten, Reason):
                reason = rewritten
            elif rewritten is not None:
                checked = _as_origin_form(message, rewritten)
        if reason is None and self._admission is not Admission.ADMITTED:
            reason = Reason.CONNECTIONS_EXCEEDED
        if reason is None:
            return checked
        hint = RequestHint(message.method, message.path)
        return Refused(reason, hint, message.headers)

    def _body_progress(self, now: float, body: StreamReader) -> None:
        self._clock.body_received(now, body.total_bytes)
        if body.total_bytes > self._body_limit:
            # RFC 9110 §15.5.14: a chunked body is counted as it streams; the reader
            # (the proxy) aborts the upstream request and answers 413.
            self._refuse_body(Reason.BODY_TOO_LARGE, body)
        elif body.is_eof():
            self._clock.body_complete()
            self._body = None

    def limit_body(self, body: object, max_bytes: int) -> None:
        """The route's limit for `body`, replacing the provisional one (`BodyLimited`)."""
        if body is self._body:
            self._body_limit = max_bytes
        if isinstance(body, StreamReader) and body.total_bytes > max_bytes:
            self._refuse_body(Reason.BODY_TOO_LARGE, body)  # it all came in one read

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        if self._upgraded and self._payload_parser is None:
            # A declined upgrade: what the client sent after it was kept raw, unseen by
            # the checks above, and aiohttp would parse it now. Close instead.
            resp.force_close()
        result = await super().finish_response(request, resp, start_time)
        self._clock.answered(self._loop.time())
        self._draining = self._body is not None
        # After aiohttp marks the request done (same step), so the phase is right.
        self._loop.call_soon(self._arm)
        return result

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, Refused):  # a failure inside a handler: aiohttp's 500/504
            return super().handle_error(request, status, exc, message)
        return answer_refused(self._gateway.app, exc, peer=self._peer, secure=self._secure())

    def _secure(self) -> bool:
        transport = self.transport
        return transport is not None and transport.get_extra_info("sslcontext") is not None

    # --- refusing -----------------------------------------------------------------

    def _head_budget(self) -> int:
        return self._limits.max_request_line + self._limits.max_header_bytes

    def queue_refusal(self, reason: Reason, prefix: bytes) -> None:
        """A refusal decided in front of this protocol (the data plane's llhttp,
        `dataplane.handover`): answered after what is queued, then the close — or,
        when it broke the body being read, by that request itself (RFC 9112 §7.1: a
        400 for it, as on the data plane; its reader gets `BodyRefused`)."""
        body = self._body
        if body is not None:
            self._refuse_body(reason, body)
            return
        self._prefix = prefix or self._prefix
        self._queue_refusal(reason)

    def _queue_refusal(self, reason: Reason) -> None:
        """Answer `reason` after whatever is queued, then close; read nothing more."""
        self._refusing = self._linger = True
        self._messages.append((_ErrInfo(0, Refused(reason, RequestHint.read(self._prefix)), ""), EMPTY_PAYLOAD))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _refuse_body(self, reason: Reason, body: StreamReader) -> None:
        if body is self._body:
            self._body = None
            self._clock.body_complete()
        self._refusing = self._linger = True
        if self._draining:
            self.force_close()  # already answered: nothing honest is left to say
            return
        # The reader (the proxy) answers 408/413; aiohttp must not then linger to
        # drain a body the client is refused to send.
        self._lingering_time = 0.0
        body.set_exception(BodyRefused(reason))

    def linger_close(self, transport: Any) -> bool:
        """Half-close instead of closing, when a refused client may still be sending:
        the answer goes out with a FIN, whatever still arrives is read and dropped
        (`_refusing`), and the socket closes when the client closes its side or once
        it has been quiet for a while (`conn.linger`). Returns False when the caller
        is to close at once."""
        if not self._linger or transport.is_closing():
            return False
        self._linger = False
        self._refusing = True
        try:
            transport.resume_reading()  # a paused socket would fill and reset anyway
            if not transport.can_write_eof():  # TLS: no half-close; linger all the same
                self._linger_on(transport)
                return True
            transport.write_eof()
        except (OSError, RuntimeError):
            return False
        self._linger_on(transport)
        return True

    def _linger_on(self, transport: Any) -> None:
        self._lingering = Linger(self._loop, transport)
        self._lingering.start()

    # --- timers -------------------------------------------------------------------

    def _busy(self) -> bool:
        return self._request_in_progress or bool(self._messages)

    def _arm(self) -> None:
        if self.transport is None:
            return
        deadline = self._clock.deadline(self._busy())
        if deadline is None:
            # Nothing owed now (busy or paused): look again later, in case a change
            # of phase went unnoticed. Cheap: one timer per connection.
            deadline = self._loop.time() + self._limits.timeouts.idle
        self._timer.arm(deadline)

    def _expire(self) -> None:
        if self.transport is None or self._refusing:
            return
        expiry = self._clock.expired(self._loop.time(), self._busy())
        if expiry is None:
            self._arm()
        elif self._admission is not Admission.ADMITTED:
            self._queue_refusal(Reason.CONNECTIONS_EXCEEDED)
        elif expiry.phase is Phase.BODY and self._body is not None:
            assert expiry.reason is not None
            self._refuse_body(expiry.reason, self._body)
        elif expiry.reason is None:
            self.force_close()  # idle: no request began, nothing to answer or record
        else:
            self._queue_refusal(expiry.reason)  # 408 for a head that never completed





class _LingeringTransport:
    """The connection's transport, whose `close()` lingers when the protocol says a
    refused client may still be sending (`GatewayProtocol.linger_close`); everything
    else is the transport's own. aiohttp closes the transport itself at the end of a
    connection, so this is the one place that sees every close."""

    __slots__ = ("_transport", "_protocol")

    def __init__(self, transport: asyncio.BaseTransport, protocol: GatewayProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        if not self._protocol.linger_close(self._transport):
            self._transport.close()
