"""`Linger`: close a refused connection only once its client has stopped sending.

Contract: after a refusal is written (and the write side half-closed), `start()`
keeps the connection open while the client keeps sending — what arrives is dropped,
each `received()` noting the time — and closes the transport once nothing came for
`QUIET_SECONDS`, or after `AT_MOST_SECONDS` whatever arrives. Closing a socket with
unread bytes makes the kernel send a reset, which can destroy the answer before the
client read it: a client still uploading the body of a refused request would see a
reset instead of its 413. nginx's lingering_close does the same (lingering_timeout
5 s, lingering_time 30 s). Event loop thread only.
"""

from __future__ import annotations

import asyncio

QUIET_SECONDS = 2.0
AT_MOST_SECONDS = 30.0


class Linger:
    __slots__ = ("_loop", "_transport", "_last", "_until")

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.BaseTransport) -> None:
        self._loop = loop
        self._transport = transport
        self._last = self._until = 0.0

    def start(self) -> None:
        now = self._loop.time()
        self._last = now
        self._until = now + AT_MOST_SECONDS
        self._loop.call_later(QUIET_SECONDS, self._check)

    def received(self) -> None:
        self._last = self._loop.time()

    def _check(self) -> None:
        transport = self._transport
        now = self._loop.time()
        quiet = now - self._last
        if transport.is_closing() or quiet >= QUIET_SECONDS or now >= self._until:
            transport.close()
            return
        wait = min(QUIET_SECONDS - quiet, self._until - now)
        self._loop.call_later(max(wait, 0.05), self._check)
