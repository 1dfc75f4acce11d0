"""One forwarded exchange: the request upstream, the answer back, both streamed.

Contract: `Relay.run()` sends the request head and body to a pooled upstream
connection and relays the response to the client, and returns how it ended
(`Ending`); it raises `UpstreamFailed` only while nothing was sent to the client yet
(the caller answers 502/504 as a page). Callbacks do the work — the client's body
chunks and the upstream's parser events call into the relay directly, so a request
costs one task and one timer, not a task per direction or a timer per read.

* Backpressure both ways: a client that reads slowly pauses the upstream's reading
  (`pause_writing` on the client transport), an upstream that reads slowly pauses the
  client's (`upstream_paused`); bounded buffers in between, none of them grows
  without bound.
* Framing is the gateway's own (RFC 9112 §6): a body is forwarded with
  `Content-Length` when its length was known and chunked otherwise; responses to HEAD
  and 204/304 carry none; a response delimited by the upstream's close is re-chunked
  for an HTTP/1.1 client.
* Interim responses (1xx other than 101) are not relayed: `Expect` is answered by the
  gateway itself, and 103 Early Hints would reach a client the gateway never checked
  them for. A 101 the gateway did not ask for fails the exchange.
* A client that leaves mid-response aborts the upstream connection (`CLIENT_GONE`,
  recorded as 499); an upstream that fails mid-body aborts the client's
  (`UPSTREAM_ABORTED` / `UPSTREAM_TIMEOUT`: RFC 9112 §8, a cut connection is the only
  honest signal once a status line is sent). Only a completed exchange returns its
  connection to the pool. `cut()` ends an exchange from outside (`Ending.CUT`: a
  stream whose session ended), aborting both connections.
* Timeouts: connect (pool acquire), read (no upstream byte for `read` seconds while
  the gateway waits for one), total — one coarse timer per exchange, re-armed lazily.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from typing import Protocol

import httptools

from authgate.conn.timer import CoarseTimer
from authgate.dataplane.framing import (
    CHUNKED_END,
    CONTINUE,
    Framing,
    chunk,
    request_head,
    response_head,
)
from authgate.dataplane.pool import PoolKey, UpstreamConnection, UpstreamPool
from authgate.decision import Reason
from authgate.outcomes import status

log = logging.getLogger(__name__)

# An upstream that has not read this much of the request body pauses the client.
_NO_BODY_STATUSES = frozenset({204, 304})


class Ending(enum.Enum):
    COMPLETE = "complete"
    CLIENT_GONE = "client-gone"
    UPSTREAM_ABORTED = "upstream-aborted"
    UPSTREAM_TIMEOUT = "upstream-timeout"
    BODY_REFUSED = "body-refused"  # the client's body broke a limit mid-stream
    CUT = "cut"  # the gateway ended it: its session ended (`continuous.connections`)


class UpstreamFailed(Exception):
    """Nothing was sent to the client: the caller answers `reason` (its status is the
    outcome table's: 502 unreachable or malformed, 504 timed out)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.status = status(reason)


class ClientSide(Protocol):
    """The client connection, as an exchange sees it."""

    writing_paused: bool
    answer_started: bool

    def write(self, data: bytes) -> None: ...

    def cork(self) -> None: ...

    def uncork(self) -> None: ...

    def abort(self) -> None: ...

    def pause_body(self) -> None: ...

    def resume_body(self) -> None: ...

    def on_writable(self, callback: object) -> None: ...


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float
    total: float | None


@dataclass(slots=True)
class Outbound:
    """What goes upstream: decided by the pipeline, framed by the data plane."""

    key: PoolKey
    method: str
    target: str
    headers: list[tuple[str, str]]
    framing: Framing  # of the request body, as llhttp parsed it
    length: int | None
    expect_continue: bool
    client_http11: bool
    client_keep_alive: bool
    extra: dict[str, str]  # added to the response (request id, rate-limit fields)


class Relay:
    """Request body chunks arrive by `body_chunk`/`body_end` (from the client parser)."""

    __slots__ = (
        "_client", "_pool", "_out", "_timeouts", "_loop", "_conn", "_parser", "_done",
        "_buffered", "_body_done", "_request_sent", "_started", "_fields", "_reason",
        "_status", "_interim", "_up_framing", "_down_framing", "_head_only", "_stray",
        "_last_read", "_waiting_read", "_deadline", "_timer", "_finished", "keep_alive",
        "upstream_status", "body_bytes", "_reusable", "_stalled_since",
    )  # fmt: skip

    def __init__(
        self, client: ClientSide, pool: UpstreamPool, out: Outbound, timeouts: Timeouts
    ) -> None:
        self._client = client
        self._pool = pool
        self._out = out
        self._timeouts = timeouts
        self._loop = asyncio.get_running_loop()
        self._conn: UpstreamConnection | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._done: asyncio.Future[Ending] = self._loop.create_future()
        self._buffered: list[bytes] = []  # body chunks before the upstream is connected
        self._body_done = out.framing is Framing.NONE
        self._request_sent = False  # head and the whole body written upstream
        self._started = False  # a response head was written to the client
        self._fields: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._status = 0
        self._interim = False
        self._up_framing = Framing.NONE
        self._down_framing = Framing.NONE
        self._head_only = out.method == "HEAD"
        self._stray = False  # bytes after a HEAD response's head
        self._last_read = 0.0
        self._waiting_read = False
        self._deadline: float | None = None
        self._timer = CoarseTimer(self._loop, self._expire)
        self._finished = False
        self._reusable = False
        self._stalled_since: float | None = None  # the client stopped reading the answer
        self.keep_alive = out.client_keep_alive  # the client connection, after this exchange
        self.upstream_status: int | None = None
        self.body_bytes = 0  # response body bytes relayed

    # --- running ------------------------------------------------------------------

    async def run(self) -> Ending:
        timeouts = self._timeouts
        now = self._loop.time()
        if timeouts.total is not None:
            self._deadline = now + timeouts.total
        return await self._exchange(await self._connect(timeouts.connect))

    async def _connect(self, timeout: float) -> UpstreamConnection:
        key = self._out.key
        try:
            return await self._pool.acquire(key, timeout)
        except TimeoutError as exc:
            log.warning("upstream %s:%s: connect timed out", key.host, key.port)
            raise UpstreamFailed(Reason.UPSTREAM_TIMEOUT) from exc
        except OSError as exc:
            log.warning("upstream %s:%s unreachable: %r", key.host, key.port, exc)
            raise UpstreamFailed(Reason.UPSTREAM_UNREACHABLE) from exc

    async def _exchange(self, conn: UpstreamConnection) -> Ending:
        self._attach(conn)
        try:
            return await self._done
        except _Retry:
            # An idle keep-alive connection the upstream closed just as it was reused
            # failed before a byte of the answer: a bodiless request is sent once more
            # (RFC 9112 §9.3.1 lets a client retry such a request on a new connection).
            self._done = self._loop.create_future()
            self._request_sent = False
            return await self._exchange(await self._connect(self._timeouts.connect))
        finally:
            self._disarm()
            self._release()

    def _attach(self, conn: UpstreamConnection) -> None:
        self._conn = conn
        self._parser = httptools.HttpResponseParser(self)
        conn.sink = self
        out = self._out
        if out.expect_continue and not self._buffered and not self._body_done:
            # RFC 9110 §10.1.1: the client waits for this before sending its body; it
            # is sent only now that the request is allowed and the upstream reachable.
            self._client.write(CONTINUE)
        head = request_head(out.method, out.target, out.headers, out.framing, out.length)
        parts = [head]
        for piece in self._buffered:
            parts.append(chunk(piece) if out.framing is Framing.CHUNKED else piece)
        self._buffered = []
        conn.write(b"".join(parts))
        if self._body_done:
            self.body_end()
        self._arm()

    # --- the request body (called by the client parser) -------------------------

    def take_body(self, buffered: list[bytes], *, done: bool) -> None:
        """What the client sent before this relay existed."""
        self._buffered = buffered
        if done:
            self._body_done = True

    def body_chunk(self, data: bytes) -> None:
        conn = self._conn
        if self._finished:
            return  # answered already (the upstream did not wait for it): dropped
        if conn is None:
            self._buffered.append(data)
            return
        conn.write(chunk(data) if self._out.framing is Framing.CHUNKED else data)

    def body_end(self) -> None:
        self._body_done = True
        conn = self._conn
        if conn is None or self._finished or self._request_sent:
            return
        if self._out.framing is Framing.CHUNKED:
            conn.write(CHUNKED_END)
        self._request_sent = True
        # The read timeout runs from here: the upstream owes the answer once it has
        # the whole request (a slow upload is the client's clock, `conn.clock`).
        self._last_read = self._loop.time()
        self._waiting_read = True
        self._arm()

    def body_refused(self) -> None:
        """The client's body broke a limit mid-stream: the exchange ends here."""
        if self._started:
            self._client.abort()
        self._end(Ending.BODY_REFUSED, reusable=False)

    def cut(self) -> None:
        """End the exchange from outside (the session it was allowed on ended): the
        client's connection is aborted — with a status line out, a cut is the only
        honest end (RFC 9112 §8) — and the upstream's with it."""
        if self._finished:
            return
        self._client.abort()
        self._end(Ending.CUT, reusable=False)

    def client_gone(self) -> None:
        self._end(Ending.CLIENT_GONE, reusable=False)

    # --- the upstream (UpstreamSink) --------------------------------------------------

    def upstream_data(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._finished:
            return
        self._last_read = self._loop.time()
        client = self._client
        client.cork()
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            log.warning("upstream %s sent a malformed response: %s", self._out.key.host, exc)
            client.uncork()
            self._broken(Reason.UPSTREAM_UNREACHABLE)
            return
        client.uncork()
        conn = self._conn
        if client.writing_paused and conn is not None and conn.transport is not None and not self._finished:
            # The client reads slower than the upstream sends: stop reading the upstream
            # until the client's buffer drains (bounded memory for 200 MB answers).
            conn.transport.pause_reading()
            if self._stalled_since is None:
                self._stalled_since = self._loop.time()
                self._arm()
            client.on_writable(self._resume_upstream)
        if self._head_only and self._started and not self._finished:
            # A HEAD answer ends with its head (RFC 9110 §9.3.2); the parser would wait
            # for the body its Content-Length describes. Bytes after it are an upstream
            # out of step: the connection is not reused.
            self._complete(reusable=not self._stray and parser.should_keep_alive())

    def upstream_lost(self, exc: BaseException | None) -> None:
        if self._finished:
            return
        if self._started and self._up_framing is Framing.CLOSE and exc is None:
            # The body was delimited by the close (RFC 9112 §6.3 item 8): it is complete.
            if self._down_framing is Framing.CHUNKED:
                self._client.write(CHUNKED_END)
            self._complete(reusable=False)
            return
        if not self._started and self._conn is not None and self._conn.reused:
            if self._out.framing is Framing.NONE and self._status == 0:
                self._conn = None
                self._done.set_exception(_Retry())
                return
        self._broken(Reason.UPSTREAM_ABORTED if self._started else Reason.UPSTREAM_UNREACHABLE)

    def upstream_paused(self) -> None:
        self._client.pause_body()

    def upstream_resumed(self) -> None:
        self._client.resume_body()

    # --- httptools response callbacks ---------------------------------------------

    def on_message_begin(self) -> None:
        self._fields = []
        self._reason = b""

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        if status < 200:
            if status == 101:
                raise httptools.HttpParserError("an upgrade the gateway did not ask for")
            self._interim = True  # 100/102/103: not relayed (see the module docstring)
            return
        self._status = status
        self.upstream_status = status
        self._waiting_read = False
        self._up_framing, length = _framing_of(self._fields, status, self._head_only)
        out = self._out
        down = self._up_framing
        if down in (Framing.CHUNKED, Framing.CLOSE):
            down = Framing.CHUNKED if out.client_http11 else Framing.CLOSE
        self._down_framing = down
        if down is Framing.CLOSE or not self._body_done:
            # A close-delimited answer ends with the connection; a request whose body
            # is still arriving is not read on after its answer.
            self.keep_alive = False
        if self._head_only or status in _NO_BODY_STATUSES:
            head_framing = Framing.NONE
        else:
            head_framing = down
        self._client.write(
            response_head(
                status, self._reason, self._fields, out.extra,
                framing=head_framing, length=length, keep_alive=self.keep_alive,
            )
        )  # fmt: skip
        self._started = True
        self._client.answer_started = True

    def on_body(self, data: bytes) -> None:
        if self._interim:
            return
        if self._head_only:
            self._stray = True
            return
        self.body_bytes += len(data)
        self._client.write(chunk(data) if self._down_framing is Framing.CHUNKED else data)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._head_only:
            return  # completed in upstream_data, after the parser returns
        if self._down_framing is Framing.CHUNKED:
            self._client.write(CHUNKED_END)
        parser = self._parser
        assert parser is not None
        keep = parser.should_keep_alive() and self._up_framing is not Framing.CLOSE
        self._complete(reusable=keep)

    # --- ending ---------------------------------------------------------------------

    def _resume_upstream(self) -> None:
        self._stalled_since = None
        conn = self._conn
        if conn is not None and conn.transport is not None and not conn.closed:
            self._last_read = self._loop.time()  # the wait was the client's, not the upstream's
            conn.transport.resume_reading()

    def _complete(self, *, reusable: bool) -> None:
        # The connection carries another exchange only if this request went out whole.
        self._end(Ending.COMPLETE, reusable=reusable and self._request_sent)

    def _broken(self, reason: Reason, *, timed_out: bool = False) -> None:
        if self._started:
            self._client.abort()
            ending = Ending.UPSTREAM_TIMEOUT if timed_out else Ending.UPSTREAM_ABORTED
            self._end(ending, reusable=False)
            return
        self._fail(UpstreamFailed(reason))

    def _fail(self, failure: UpstreamFailed) -> None:
        if self._finished:
            return
        self._finished = True
        self._reusable = False
        conn = self._conn
        if conn is not None:
            conn.abort()
        if not self._done.done():
            self._done.set_exception(failure)

    def _end(self, ending: Ending, *, reusable: bool) -> None:
        if self._finished:
            return
        self._finished = True
        self._reusable = reusable
        if ending is not Ending.COMPLETE and self._conn is not None:
            # Mid-exchange: a reset, so the upstream stops at once (release() closes a
            # completed exchange's connection that is not reused, gracefully).
            self._conn.abort()
        if not self._done.done():
            self._done.set_result(ending)

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        self._parser = None
        if conn is not None:
            self._pool.release(conn, self._reusable)

    # --- the one timer ------------------------------------------------------------------

    def _arm(self) -> None:
        when = self._next_deadline()
        if when is None:
            return
        self._timer.arm(when)

    def _next_deadline(self) -> float | None:
        if self._stalled_since is not None:
            # The upstream is paused for the client: the client's send timeout runs.
            read: float | None = self._stalled_since + self._timeouts.read
        else:
            read = self._last_read + self._timeouts.read if self._waiting_read else None
        deadline = self._deadline
        if read is None:
            return deadline
        return read if deadline is None else min(read, deadline)

    def _disarm(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        if self._finished:
            return
        now = self._loop.time()
        stalled = self._stalled_since
        if stalled is not None and now >= stalled + self._timeouts.read:
            # A client that reads nothing of its answer for as long as an upstream may
            # stay silent holds two connections for nothing (nginx's send_timeout): it
            # is cut, and recorded as the client's leaving (499).
            log.info("client stopped reading its answer for %.0f s: closed", now - stalled)
            self._client.abort()
            self._end(Ending.CLIENT_GONE, reusable=False)
            return
        total_over = self._deadline is not None and now >= self._deadline
        read_over = (
            stalled is None
            and (self._waiting_read or self._started)
            and now >= self._last_read + self._timeouts.read
        )
        if total_over or read_over:
            log.warning("upstream %s timed out", self._out.key.host)
            self._broken(Reason.UPSTREAM_TIMEOUT, timed_out=True)
            return
        if self._started:
            self._waiting_read = True  # mid-body: the upstream owes the next bytes
        self._arm()


class _Retry(Exception):
    """A reused connection closed before answering: send the request again."""


def _framing_of(
    fields: list[tuple[bytes, bytes]], status: int, head_only: bool
) -> tuple[Framing, int | None]:
    """The upstream response's framing and Content-Length (RFC 9112 §6.3)."""
    length: int | None = None
    chunked = False
    for name, value in fields:
        lowered = name.lower()
        if lowered == b"content-length":
            length = int(value)  # llhttp refused anything but one decimal value
        elif lowered == b"transfer-encoding":
            chunked = value.strip().lower().endswith(b"chunked")
    if head_only or status in _NO_BODY_STATUSES:
        return Framing.NONE, length
    if chunked:
        return Framing.CHUNKED, None
    if length is not None:
        return Framing.LENGTH, length
    return Framing.CLOSE, None
