"""One connection's read timers: what the client owes, and by when.

Contract: `ReadClock` is a pure state machine fed with events and the time (the
event loop's monotonic clock); it never reads a clock itself, so tests step time.
At any moment the connection is in one phase:

* IDLE — nothing of a request has arrived (a new connection, or between keep-alive
  requests). Expires after `idle`: the connection is closed without an answer, as
  nginx does at `keepalive_timeout` (no request, nothing to answer or record).
* HEAD — a request has begun and its headers are not complete. Expires `header_read`
  after its FIRST byte, however slowly more bytes arrive: a client that sends one
  header byte every few seconds (slowloris, the CVE-2007-6750 class) gets 408.
* BODY — a request body is being read. Expires after `body_read` without a body
  byte (nginx `client_body_timeout`) or, from `body_grace` on, when the average rate
  since the body began falls below `body_min_rate` bytes/s (ASP.NET Core Kestrel's
  MinRequestBodyDataRate): a body sent at one byte per second (slow POST, "R-U-Dead-
  Yet") is cut although it never pauses for long.
* BUSY — the gateway is answering; the client owes nothing (the upstream timeouts
  apply). A pipelined request's head that arrives meanwhile is timed from the answer.

While reading is paused for backpressure (the gateway does not want more yet) no
timer runs: the time does not count against the client.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from authgate.conn.limits import Timeouts
from authgate.decision import Reason


class Phase(enum.Enum):
    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class Expiry:
    phase: Phase
    reason: Reason | None  # None: no request had begun, so nothing to answer


class ReadClock:
    __slots__ = (
        "_t", "_idle_since", "_head_since", "head_bytes",
        "_body_open", "_body_start", "_body_last", "_body_bytes", "_paused_since",
    )  # fmt: skip

    def __init__(self, timeouts: Timeouts, now: float) -> None:
        self._t = timeouts
        self._idle_since = now
        self._head_since: float | None = None
        self.head_bytes = 0  # of the request whose head is incomplete
        self._body_open = False
        self._body_start = self._body_last = now
        self._body_bytes = 0
        self._paused_since: float | None = None

    # --- events ---------------------------------------------------------------

    def head_received(self, now: float, size: int) -> None:
        if self._head_since is None:
            self._head_since = now
        self.head_bytes += size

    def head_complete(self, now: float, *, body: bool) -> None:
        self._head_since = None
        self.head_bytes = 0
        if body:
            self._body_open = True
            self._body_start = self._body_last = now
            self._body_bytes = 0

    def body_received(self, now: float, total: int) -> None:
        """`total`: the body bytes received so far (not the wire's chunk framing)."""
        if total > self._body_bytes:
            self._body_bytes = total
            self._body_last = now

    def body_complete(self) -> None:
        self._body_open = False

    def answered(self, now: float) -> None:
        """A response was sent: the keep-alive wait (or a pipelined head) starts now."""
        self._idle_since = now
        if self._head_since is not None:
            self._head_since = max(self._head_since, now)

    def paused(self, now: float) -> None:
        if self._paused_since is None:
            self._paused_since = now

    def resumed(self, now: float) -> None:
        if self._paused_since is None:
            return
        excused = now - self._paused_since
        self._paused_since = None
        self._idle_since += excused
        self._body_start += excused
        self._body_last += excused
        if self._head_since is not None:
            self._head_since += excused

    # --- state ----------------------------------------------------------------

    def phase(self, busy: bool) -> Phase:
        """`busy`: a request is being answered or waits its turn (pipelining)."""
        if self._body_open:
            return Phase.BODY
        if busy:
            return Phase.BUSY
        return Phase.HEAD if self._head_since is not None else Phase.IDLE

    def deadline(self, busy: bool) -> float | None:
        """When the current phase expires; None while nothing is owed or paused."""
        return self._next(busy)[0]

    def expired(self, now: float, busy: bool) -> Expiry | None:
        deadline, reason = self._next(busy)
        if deadline is None or now <= deadline:  # at the floor rate exactly is still enough
            return None
        return Expiry(self.phase(busy), reason)

    def _next(self, busy: bool) -> tuple[float | None, Reason | None]:
        if self._paused_since is not None:
            return None, None
        phase = self.phase(busy)
        t = self._t
        if phase is Phase.IDLE:
            return self._idle_since + t.idle, None
        if phase is Phase.HEAD:
            assert self._head_since is not None
            return self._head_since + t.header_read, Reason.HEADER_TIMEOUT
        if phase is Phase.BODY:
            stalled = self._body_last + t.body_read
            if t.body_min_rate:
                # The moment the average rate since the body began drops to the floor.
                slow = self._body_start + max(t.body_grace, self._body_bytes / t.body_min_rate)
                if slow < stalled:  # with not a byte yet, it stalled rather than slowed
                    return slow, Reason.BODY_TOO_SLOW if self._body_bytes else Reason.BODY_TIMEOUT
            return stalled, Reason.BODY_TIMEOUT
        return None, None
