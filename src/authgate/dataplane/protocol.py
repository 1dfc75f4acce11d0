"""The data plane's client connection: llhttp parsing, timers, refusals, in order.

Contract: one `DataPlaneProtocol` per accepted connection. It parses requests with
httptools in strict mode — conflicting `Content-Length`/`Transfer-Encoding`, a
duplicate `Content-Length`, bad chunk sizes, bare LF, obs-fold, NUL or other
control characters, a space before a field's colon (RFC 9112 §2.2, §5.1, §6.1, §6.3,
§7.1), chunk extensions and trailers past `chunk_budget`'s bound (§7.1.1) are
refused with 400 and the connection closed — and runs the connection level of
docs/limits.md exactly as the aiohttp front end does (`conn.clock`, `conn.peers`,
`conn.refusals`, `conn.absolute_form`: the same pure modules). An absolute-form
target goes on as origin-form with its authority as Host (RFC 9112 §3.2.2). Each
request then runs in one task: facts, `judge` (the pipeline), and either the
gateway's answer or a `Relay`.

* Pipelined requests are answered in order: a head that arrives while an answer is
  being sent waits in a queue (reading paused, so the queue stays one read deep).
* Every request leaves exactly one decision record, whatever happens (the task's
  `finally`); a client that leaves before its answer is recorded as 499.
* `/.authgate/*`, forward-auth calls and upgrades (WebSockets) are the aiohttp
  front end's: when such a request's turn comes, the connection is handed over
  (`handover.Translator`) and stays there.
* Drain: `close()` lets the request in progress finish and closes the connection
  (an idle one at once); `shutdown(timeout)` waits that long, then aborts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from authgate.conn.absolute_form import origin_form
from authgate.conn.clock import Phase, ReadClock
from authgate.conn.limits import ConnectionLimits
from authgate.conn.peers import Admission
from authgate.conn.linger import Linger
from authgate.conn.timer import CoarseTimer
from authgate.conn.refusals import (
    ParseError,
    RequestHint,
    check_head,
    classify_parse_error,
)
from authgate.dataplane.chunk_budget import ChunkBudget, slice_size
from authgate.dataplane.exchange import serve_request
from authgate.dataplane.framing import Framing, answer_bytes
from authgate.dataplane.handover import Translator, needs_aiohttp
from authgate.decision import Reason
from authgate.server.refused import Refused, answer_refused, record_refused
from authgate.server.state import GENERATION

if TYPE_CHECKING:
    from authgate.dataplane.relay import Relay
    from authgate.dataplane.server import DataPlaneServer

log = logging.getLogger(__name__)

_PREFIX_BYTES = 512  # the first bytes of a head, for its refusal's record
_BODY_HIGH_WATER = 256 * 1024  # buffered body bytes before the client is paused


def headers_of(fields: list[tuple[bytes, bytes]]) -> CIMultiDictProxy[str]:
    """A head's fields as the pipeline reads them: in order, duplicates kept."""
    return CIMultiDictProxy(CIMultiDict((n.decode("latin-1"), v.decode("latin-1")) for n, v in fields))


class Incoming:
    """One request parsed from the connection: its head, and its body as it arrives."""

    __slots__ = (
        "method", "target", "version", "fields", "keep_alive", "framing", "length",
        "expect_continue", "buffer", "buffered", "received", "body_done", "relay",
        "refused", "limit", "headers", "started", "time", "budget",
    )  # fmt: skip

    def __init__(
        self, method: str, target: str, version: tuple[int, int], fields: list[tuple[bytes, bytes]]
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.fields = fields
        self.keep_alive = True
        self.framing = Framing.NONE
        self.length: int | None = None
        self.expect_continue = False
        self.buffer: list[bytes] = []  # body chunks before a relay takes them
        self.buffered = 0
        self.received = 0  # body bytes so far (after de-chunking)
        self.body_done = True
        self.relay: Relay | None = None
        self.refused: Reason | None = None  # the body broke a limit or a timer
        self.limit = 0
        self.budget: ChunkBudget | None = None  # a chunked body's framing, counted
        self.started = time.monotonic()
        self.time = time.time()
        self.headers = headers_of(fields)


class _HandOver:
    """Marks the place in the queue from which the connection is aiohttp's."""

    __slots__ = ()


class _Refusal:
    __slots__ = ("refused",)

    def __init__(self, refused: Refused) -> None:
        self.refused = refused


Item = Incoming | _HandOver | _Refusal


class _Stop(Exception):
    """Raised from a parser callback: stop parsing, the connection is refused."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class DataPlaneProtocol(asyncio.Protocol):
    def __init__(self, server: DataPlaneServer) -> None:
        self.server = server
        self.app = server.app
        self._loop = server.loop
        self._limits: ConnectionLimits = self.app[GENERATION].server.connection_limits
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = "unknown"
        self.secure = False
        self.listener_port: int | None = None
        self.ssl_object: Any = None
        self._admission = Admission.DROPPED
        self._clock = ReadClock(self._limits.timeouts, 0.0)
        self._timer = CoarseTimer(self._loop, self._expire)
        # the head being parsed
        self._url = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self._field_bytes = 0
        self._prefix = b""
        self._parsing: Incoming | None = None  # whose body the parser is reading
        # requests in order
        self._queue: deque[Item] = deque()
        self._current: Item | None = None
        self._task: asyncio.Task[None] | None = None
        self._translator: Translator | None = None
        self._refusing = False  # nothing more is parsed
        self._lingering: Linger | None = None  # a refused client still sending (conn.linger)
        self._closing = False  # close after the current answer
        self._lost = False
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._pauses: set[str] = set()
        self.writing_paused = False
        self.answer_started = False  # of the request in progress
        self._corked: list[bytes] | None = None
        self._writable: list[Any] = []

    @property
    def lost(self) -> bool:
        return self._lost

    # --- the connection ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        sockname = transport.get_extra_info("sockname")
        self.listener_port = int(sockname[1]) if isinstance(sockname, tuple) and len(sockname) >= 2 else None
        self.secure = transport.get_extra_info("sslcontext") is not None
        self.ssl_object = transport.get_extra_info("ssl_object")
        self.server.track(self)
        runtime = self.app[GENERATION].server
        trusted = runtime.trusted.contains(self.peer)
        # The per-peer cap (conn.peers), as on the aiohttp front end.
        self._admission = self.server.peers.admit(self.peer, self._limits.cap(trusted))
        admitted = self._admission is Admission.ADMITTED
        self._clock = ReadClock(self._limits.timeouts_for(admitted), self._loop.time())
        if self._admission is Admission.DROPPED:
            self._refusing = True
            refused = Refused(Reason.CONNECTIONS_EXCEEDED, RequestHint())
            record_refused(self.app, refused, peer=self.peer, secure=self.secure, answered=False)
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._lost = True
        translator = self._translator
        if translator is not None and translator.active:
            translator.connection_lost(exc)
        self._release()
        current = self._current
        if isinstance(current, Incoming) and current.relay is not None:
            current.relay.client_gone()
        for callback in self._writable:
            callback()
        self._writable = []
        if not self._done.done():
            self._done.set_result(None)

    def _release(self) -> None:
        self._timer.cancel()
        admission, self._admission = self._admission, Admission.DROPPED
        self.server.peers.release(self.peer, admission)
        self.server.untrack(self)

    def eof_received(self) -> bool | None:
        translator = self._translator
        if translator is not None and translator.active:
            return translator.eof_received()
        # A client's FIN is its leaving, as for aiohttp and nginx (whose default,
        # proxy_ignore_client_abort off, cuts the upstream and logs 499): the transport
        # closes and the exchange in progress ends as CLIENT_GONE.
        return False

    def pause_writing(self) -> None:
        self.writing_paused = True
        translator = self._translator
        if translator is not None and translator.active:
            translator.pause_writing()

    def resume_writing(self) -> None:
        self.writing_paused = False
        translator = self._translator
        if translator is not None and translator.active:
            translator.resume_writing()
        callbacks, self._writable = self._writable, []
        for callback in callbacks:
            callback()

    # --- ClientSide (for the relay) ------------------------------------------------------

    def write(self, data: bytes) -> None:
        corked = self._corked
        if corked is not None:
            corked.append(data)
            return
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def cork(self) -> None:
        """Hold writes until `uncork`: what one upstream read produced (a small
        answer's head and body) leaves in one send(), not one per piece."""
        if self._corked is None:
            self._corked = []

    def uncork(self) -> None:
        corked, self._corked = self._corked, None
        if corked:
            self.write(corked[0] if len(corked) == 1 else b"".join(corked))

    def abort(self) -> None:
        self._corked = None  # an aborted answer sends nothing more
        if self.transport is not None:
            self.transport.abort()

    def on_writable(self, callback: Any) -> None:
        if self.writing_paused:
            self._writable.append(callback)
        else:
            callback()

    def pause_body(self) -> None:
        self._pause("upstream")

    def resume_body(self) -> None:
        self._resume("upstream")

    def _pause(self, why: str) -> None:
        if not self._pauses and self.transport is not None:
            self.transport.pause_reading()
            self._clock.paused(self._loop.time())  # backpressure: not the client's time
        self._pauses.add(why)

    def _resume(self, why: str) -> None:
        if why not in self._pauses:
            return
        self._pauses.discard(why)
        if not self._pauses and self.transport is not None and not self._lost:
            self._clock.resumed(self._loop.time())
            self.transport.resume_reading()
            self._arm()

    # --- reading -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        translator = self._translator
        if translator is not None:
            translator.feed(data)
            return
        if self._refusing:
            if self._lingering is not None:
                self._lingering.received()
            return  # refused: what still arrives is read and dropped
        now = self._loop.time()
        parsing = self._parsing
        if parsing is None:
            self._clock.head_received(now, len(data))
            if len(self._prefix) < _PREFIX_BYTES:
                self._prefix += data[: _PREFIX_BYTES - len(self._prefix)]
        rest = self._parse(data)
        if self._translator is not None:
            if rest:
                self._translator.feed(rest)  # after a hand-over in this read: aiohttp's
            self._translator.flush()  # what followed the handed-over head in this read
        elif self._parsing is None and self._clock.head_bytes > self._head_budget():
            # Counted as it arrives, so a 938 KB head is refused at 48 KiB, not parsed.
            self._refuse(classify_parse_error(ParseError.LINE_TOO_LONG, self._prefix))
        self._arm()

    def _parse(self, data: bytes) -> bytes:
        """Feed llhttp `data`; what is left once a translator took the connection over.

        In slices while a head or a chunked body is parsed: a slice that a chunked body
        used whole is its framing budget's to count (`chunk_budget`), and a body begun
        in the same read as its head is counted from the next slice on."""
        while data:
            body = self._parsing
            budget = body.budget if body is not None else None
            size = slice_size(body is None, budget, len(data))
            piece, data = data[:size], data[size:]
            self._feed(piece)
            if self._refusing:
                return b""  # refused: the rest is read and dropped
            if self._translator is not None:
                return data
            if body is not None and budget is not None and self._parsing is body:
                budget.consumed(len(piece))
                if budget.exceeded(body.received):
                    self._refuse(Reason.REQUEST_INVALID)  # RFC 9112 §7.1.1: a 4xx
                    return b""
        return b""

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # An upgrade's head was queued for aiohttp; what follows it is not HTTP.
            assert self._translator is not None
            self._translator.raw(data[upgrade.args[0]:])
        except _Stop as stop:
            self._refuse(stop.reason)
        except httptools.HttpParserError as error:
            cause = error.__context__
            if isinstance(cause, _Stop):
                self._refuse(cause.reason)
            elif self._translator is not None:
                self._translator.refused(error)  # after a hand-over in this read: aiohttp's
            else:
                self._refuse(classify_parse_error(_parse_error(error), self._prefix))

    def _head_budget(self) -> int:
        return self._limits.max_request_line + self._limits.max_header_bytes

    # httptools callbacks (llhttp, strict) ------------------------------------------------

    def on_message_begin(self) -> None:
        if self._translator is not None:
            self._translator.on_message_begin()
            return
        self._url = b""
        self._fields = []
        self._field_bytes = 0

    def on_url(self, url: bytes) -> None:
        if self._translator is not None:
            self._translator.on_url(url)
            return
        self._url += url
        if len(self._url) > self._limits.max_request_line:
            raise _Stop(Reason.URI_TOO_LONG)  # RFC 9110 §15.5.15

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._translator is not None:
            self._translator.on_header(name, value)
            return
        if self._parsing is not None:
            return  # a chunked body's trailer fields: not forwarded (RFC 9110 §6.5.1)
        self._fields.append((name, value))
        self._field_bytes += len(name) + len(value) + 4
        if len(self._fields) > self._limits.max_headers or self._field_bytes > self._limits.max_header_bytes:
            raise _Stop(Reason.HEADERS_TOO_LARGE)  # RFC 6585 §5

    def on_headers_complete(self) -> None:
        if self._translator is not None:
            self._translator.on_headers_complete()
            return
        parser = self.parser
        now = self._loop.time()
        version_text = parser.get_http_version()
        major, _, minor = version_text.partition(".")
        version = (int(major), int(minor or 0))
        method = parser.get_method().decode("ascii")
        target, fields = self._url.decode("latin-1"), self._fields
        # `_field_bytes` is the header section's size, counted as the fields arrived
        # (`header_section_bytes`' sum, not recomputed per request).
        reason = check_head(method, version, target, self._field_bytes, self._limits.max_header_bytes)
        if reason is None and not target.startswith("/"):
            reason, target, fields = _absolute_form(target, fields, version)
        if reason is None and self._admission is not Admission.ADMITTED:
            reason = Reason.CONNECTIONS_EXCEEDED
        incoming = Incoming(method, target, version, fields)
        if reason is None:
            reason = self._framing(incoming)
        if reason is not None:
            raise _Stop(reason)  # its record reads the method and target from `_prefix`
        self._prefix = b""
        incoming.keep_alive = version == (1, 1) and parser.should_keep_alive() and not self.server.draining
        has_body = not incoming.body_done
        self._clock.head_complete(now, body=has_body)
        if needs_aiohttp(incoming, parser.should_upgrade()):
            self._translator = Translator(self, incoming)
            self._enqueue(_HandOver())
            return
        self._parsing = incoming if has_body else None
        self._enqueue(incoming)

    def _framing(self, incoming: Incoming) -> Reason | None:
        te = incoming.headers.get("Transfer-Encoding")
        if te is not None:
            if incoming.version < (1, 1):
                # RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
                return Reason.REQUEST_INVALID
            codings = [c.strip().lower() for c in te.split(",")]
            if codings[-1] == "chunked" and len(codings) > 1:
                # RFC 9112 §6.1: a server that receives a transfer coding it does not
                # understand answers 501; the gateway forwards none but chunked (llhttp
                # accepts `gzip, chunked`, and the upstream would get gzip unannounced).
                # A list not ending in chunked is llhttp's 400 (§6.3 item 4).
                return Reason.TRANSFER_CODING_UNSUPPORTED
            incoming.framing = Framing.CHUNKED  # llhttp accepted it: it ends in chunked
            incoming.body_done = False
            incoming.budget = ChunkBudget()  # llhttp skips extensions unbounded
        elif "Content-Length" in incoming.headers:
            # A declared length over the route's limit is refused by `judge` before a
            # byte is read (RFC 9110 §15.5.14), with the route in its record.
            length = int(incoming.headers["Content-Length"])
            incoming.length = length
            if length:
                incoming.framing = Framing.LENGTH
                incoming.body_done = False
        incoming.limit = self._limits.max_body
        expect = incoming.headers.get("Expect")
        incoming.expect_continue = (
            expect is not None and expect.lower() == "100-continue" and incoming.version == (1, 1)
        )
        return None

    def on_chunk_header(self) -> None:
        if self._translator is not None:
            self._translator.on_chunk_header()
            return
        incoming = self._parsing
        if incoming is not None and incoming.budget is not None:
            incoming.budget.chunk()

    def on_body(self, body: bytes) -> None:
        if self._translator is not None:
            self._translator.on_body(body)
            return
        incoming = self._parsing
        if incoming is None:
            return
        incoming.received += len(body)
        self._clock.body_received(self._loop.time(), incoming.received)
        if incoming.received > incoming.limit:
            # RFC 9110 §15.5.14: a chunked body is counted as it streams.
            self._body_refused(incoming, Reason.BODY_TOO_LARGE)
            raise _Stop(Reason.BODY_TOO_LARGE)
        relay = incoming.relay
        if relay is not None:
            relay.body_chunk(body)
            return
        incoming.buffer.append(body)
        incoming.buffered += len(body)
        if incoming.buffered > _BODY_HIGH_WATER:
            self._pause("body")  # resumed when a relay takes the buffer

    def on_message_complete(self) -> None:
        if self._translator is not None:
            self._translator.on_message_complete()
            return
        incoming = self._parsing
        if incoming is None:
            return
        self._parsing = None
        incoming.body_done = True
        self._clock.body_complete()
        if incoming.relay is not None:
            incoming.relay.body_end()

    # --- requests in order ------------------------------------------------------------------

    def _enqueue(self, item: Item) -> None:
        if self._current is None and not self._queue:
            self._start(item)
            return
        self._queue.append(item)
        self._pause("pipeline")  # one read deep: the queue never grows past what was read

    def _start(self, item: Item) -> None:
        self._current = item
        if isinstance(item, _HandOver):
            assert self._translator is not None
            self._release()
            self._translator.hand_over()
            return
        if isinstance(item, _Refusal):
            self._answer_refusal(item.refused)
            return
        self._task = self._loop.create_task(serve_request(self, item))

    def take_body(self, incoming: Incoming, relay: Relay) -> list[bytes]:
        """A relay takes the body buffered so far; what follows goes to it directly."""
        incoming.relay = relay
        buffered, incoming.buffer = incoming.buffer, []
        incoming.buffered = 0
        self._resume("body")
        return buffered

    def limit_body(self, incoming: Incoming, limit: int) -> bool:
        """The route's body limit; False when the body already broke it."""
        incoming.limit = limit
        if incoming.received > limit and incoming.refused is None:
            self._body_refused(incoming, Reason.BODY_TOO_LARGE)
            self._refusing = True
        return incoming.refused is None

    def finished(self, incoming: Incoming, keep_alive: bool) -> None:
        """The request's answer was sent (or the connection is gone)."""
        self._task = None
        self._current = None
        if self._lost:
            return
        self._clock.answered(self._loop.time())
        if not keep_alive or self._closing or self.server.draining:
            self._close_after_answer(incoming)
            return
        if self._queue:
            self._start(self._queue.popleft())
            if not self._queue:
                self._resume("pipeline")
        else:
            self._resume("pipeline")
        self._arm()

    def _close_after_answer(self, incoming: Incoming) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if incoming.body_done and not self._refusing:
            transport.close()
            return
        self._linger(transport)

    def _linger(self, transport: asyncio.Transport) -> None:
        """Half-close and drop what the client still sends, then close (nginx's
        lingering_close): closing with unread bytes would reset the answer away."""
        self._refusing = True
        self._pauses.clear()
        try:
            transport.resume_reading()
            if transport.can_write_eof():
                transport.write_eof()
        except (OSError, RuntimeError):
            transport.close()
            return
        self._lingering = Linger(self._loop, transport)
        self._lingering.start()

    # --- refusing ----------------------------------------------------------------------------

    def _refuse(self, reason: Reason) -> None:
        """Answer `reason` after whatever is queued, then close; parse nothing more."""
        if self._refusing:
            return
        self._refusing = True
        parsing = self._parsing
        if parsing is not None:
            # The head was accepted and its body broke the framing (a bad chunk, a
            # coding llhttp refused after the head): that request answers 400 itself
            # (RFC 9112 §7.1) — before any of it went upstream when it is still being
            # judged, or by cutting the relay when its upstream already has the head.
            self._body_refused(parsing, reason)
            return
        hint = RequestHint.read(self._prefix) if self._prefix else RequestHint()
        headers = headers_of(self._fields) if self._fields else None
        self._enqueue(_Refusal(Refused(reason, hint, headers)))

    def _body_refused(self, incoming: Incoming, reason: Reason) -> None:
        if incoming.refused is not None:
            return
        incoming.refused = reason
        self._refusing = True
        relay = incoming.relay
        if relay is not None:
            relay.body_refused()

    def _answer_refusal(self, refused: Refused) -> None:
        response = answer_refused(self.app, refused, peer=self.peer, secure=self.secure)
        self.write(answer_bytes(response, keep_alive=False, head_only=refused.hint.method == "HEAD"))
        self._current = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self._linger(transport)

    # --- timers ------------------------------------------------------------------------------

    def _busy(self) -> bool:
        return self._current is not None or bool(self._queue)

    def _arm(self) -> None:
        if self.transport is None or self._lost or self._translator is not None:
            return
        deadline = self._clock.deadline(self._busy())
        if deadline is None:
            deadline = self._loop.time() + self._limits.timeouts.idle
        self._timer.arm(deadline)

    def _expire(self) -> None:
        if self.transport is None or self._lost or self._translator is not None:
            return
        if self._refusing and self._current is None and not self._queue:
            return
        expiry = self._clock.expired(self._loop.time(), self._busy())
        if expiry is None:
            self._arm()
        elif self._admission is not Admission.ADMITTED and not self._refusing:
            self._refuse(Reason.CONNECTIONS_EXCEEDED)
        elif expiry.phase is Phase.BODY and self._parsing is not None:
            assert expiry.reason is not None
            self._body_refused(self._parsing, expiry.reason)
        elif expiry.reason is None:
            self.transport.close()  # idle: no request began, nothing to answer or record
        else:
            self._refuse(expiry.reason)  # 408 for a head that never completed

    # --- drain ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop after the answer in progress; an idle connection closes now."""
        self._closing = True
        if self._current is None and not self._queue and self._parsing is None:
            if self.transport is not None and not self._lost and not self._clock.head_bytes:
                self.transport.close()

    async def shutdown(self, timeout: float | None) -> None:
        self.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


def _absolute_form(
    target: str, fields: list[tuple[bytes, bytes]], version: tuple[int, int]
) -> tuple[Reason | None, str, list[tuple[bytes, bytes]]]:
    """An absolute-form target as origin-form, its authority the one Host field
    (RFC 9112 §3.2.2; `conn.absolute_form`); the target and fields unchanged else."""
    hosts = [value.decode("latin-1") for name, value in fields if name.lower() == b"host"]
    rewritten = origin_form(target, hosts, version)
    if rewritten is None:
        return None, target, fields
    if isinstance(rewritten, Reason):
        return rewritten, target, fields
    host = rewritten.host.encode("latin-1")
    if not hosts:  # HTTP/1.0 without Host
        return None, rewritten.target, [(b"Host", host), *fields]
    # At most one Host was received (origin_form refuses two): its value replaced.
    return None, rewritten.target, [(n, host if n.lower() == b"host" else v) for n, v in fields]



def _parse_error(error: httptools.HttpParserError) -> ParseError:
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        return ParseError.BAD_METHOD
    text = str(error).lower()
    if isinstance(error, httptools.HttpParserInvalidURLError) or "version" in text:
        return ParseError.BAD_REQUEST_LINE
    return ParseError.OTHER
