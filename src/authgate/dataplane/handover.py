"""Hand a connection to the aiohttp front end, still behind llhttp.

Contract: the gateway's own endpoints (`/.authgate/*`: login, callback, logout,
forward-auth), its pages and WebSocket upgrades are served by aiohttp
(`server/handler.py`, `server/protocol.py`) on the same port. `needs_aiohttp` says
which requests those are — decided from the head, before anything is judged, so a
request is decided once. From such a request on, the connection is aiohttp's for
the rest of its life: a `Translator` keeps parsing with llhttp and feeds aiohttp the
canonical form of what llhttp accepted (request line, fields as received, the body
re-framed: `Content-Length` as is, chunked re-chunked without trailers). aiohttp's
parser therefore never sees bytes llhttp would have refused: the two parsers cannot
disagree about where a request ends (request smuggling needs two parsers that
disagree). A chunked body's framing is bounded here as on the data plane
(`chunk_budget`); what llhttp refuses, or the bound, inside a body aiohttp is reading
refuses that request (400), else the refusal is queued after what aiohttp has. After
an upgrade's head the bytes are not HTTP: they pass through raw, and the transport
is given to aiohttp's protocol outright.

Requests queued before the handed-over one are answered first (the hand-over is
itself a place in the queue), so answers stay in order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httptools

from authgate.conn.refusals import ParseError, classify_parse_error
from authgate.dataplane.chunk_budget import ChunkBudget, slice_size
from authgate.dataplane.framing import CHUNKED_END, Framing, chunk
from authgate.proxy.handshake import wants_websocket
from authgate.routing import PathRejected, normalize_path
from authgate.server.endpoints import PREFIX
from authgate.server.forward_auth import AUTH_PATH

if TYPE_CHECKING:
    from authgate.dataplane.protocol import DataPlaneProtocol, Incoming
    from authgate.server.protocol import GatewayProtocol

log = logging.getLogger(__name__)
_ENDPOINTS = PREFIX.rstrip("/")


def needs_aiohttp(incoming: Incoming, upgrade: bool) -> bool:
    """An upgrade, a forward-auth call or a path of the gateway's own endpoints."""
    if upgrade or wants_websocket(incoming.method, incoming.headers):
        return True
    path = incoming.target.partition("?")[0]
    if path == AUTH_PATH:
        return True
    if "authgate" not in path.lower() and "%" not in path:
        return False  # the common case, without normalizing twice
    try:
        normalized = normalize_path(path)
    except PathRejected:
        return False  # the facts refuse it on the data plane
    return normalized == _ENDPOINTS or normalized.startswith(PREFIX)


def canonical_head(method: str, target: str, version: tuple[int, int], fields: list[tuple[bytes, bytes]]) -> bytes:
    parts = [f"{method} {target} HTTP/{version[0]}.{version[1]}\r\n".encode("latin-1")]
    parts.extend(b"%b: %b\r\n" % (name, value) for name, value in fields)
    parts.append(b"\r\n")
    return b"".join(parts)


class Translator:
    """llhttp in front of aiohttp for one connection (see the module docstring)."""

    def __init__(self, client: DataPlaneProtocol, first: Incoming) -> None:
        self._client = client
        self._out: list[bytes] = [canonical_head(first.method, first.target, first.version, first.fields)]
        self._chunked = first.framing is Framing.CHUNKED
        self._in_body = not first.body_done
        self._budget = first.budget  # a chunked body's framing, counted (`chunk_budget`)
        self._decoded = 0
        self._url = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self._prefix = b""
        self._raw = False
        self._refusal: ParseError | None = None
        self._aiohttp: GatewayProtocol | None = None
        self.active = False

    # --- bytes in ---------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self._raw:
            self._emit(data)
            return
        if self._refusal is not None:
            return
        if not self._in_body and len(self._prefix) < 512:
            self._prefix += data[:512]
        while data and self._refusal is None and not self._raw:
            budget = self._budget
            size = slice_size(not self._in_body, budget, len(data))
            piece, data = data[:size], data[size:]
            try:
                self._client.parser.feed_data(piece)
            except httptools.HttpParserUpgrade as upgrade:
                self.raw(piece[upgrade.args[0]:] + data)
                return
            except httptools.HttpParserError as error:
                self.refused(error)
            else:
                if budget is not None and self._budget is budget:
                    budget.consumed(len(piece))
                    if budget.exceeded(self._decoded):
                        self._refusal = ParseError.OTHER  # RFC 9112 §7.1.1: a 4xx
        self.flush()

    def refused(self, error: httptools.HttpParserError) -> None:
        """llhttp refused what followed the hand-over: aiohttp answers it."""
        log.debug("handed-over connection: llhttp refused %s", error)
        self._refusal = ParseError.OTHER

    def raw(self, data: bytes) -> None:
        """From here on the connection carries another protocol's bytes."""
        self._raw = True
        if data:
            self._out.append(data)
        self.flush()
        transport = self._client.transport
        if self.active and self._aiohttp is not None and transport is not None:
            transport.set_protocol(self._aiohttp)

    def _emit(self, data: bytes) -> None:
        self._out.append(data)
        self.flush()

    # --- llhttp callbacks (called through the client protocol) ------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._fields = []
        self._in_body = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_body:  # trailer fields are not forwarded
            self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._client.parser
        major, _, minor = parser.get_http_version().partition(".")
        method = parser.get_method().decode("ascii")
        target = self._url.decode("latin-1")
        self._out.append(canonical_head(method, target, (int(major), int(minor or 0)), self._fields))
        self._chunked = any(name.lower() == b"transfer-encoding" for name, _ in self._fields)
        self._budget = ChunkBudget() if self._chunked else None
        self._decoded = 0
        self._in_body = True
        self._prefix = b""

    def on_chunk_header(self) -> None:
        if self._budget is not None:
            self._budget.chunk()

    def on_body(self, body: bytes) -> None:
        self._decoded += len(body)
        self._out.append(chunk(body) if self._chunked else body)

    def on_message_complete(self) -> None:
        if self._chunked:
            self._out.append(CHUNKED_END)
        self._chunked = False
        self._budget = None
        self._in_body = False

    # --- the hand-over ------------------------------------------------------------

    def hand_over(self) -> None:
        client = self._client
        transport = client.transport
        if transport is None or transport.is_closing():
            return
        protocol = client.server.aiohttp_protocol()
        self._aiohttp = protocol
        protocol.connection_made(transport)
        self.active = True
        self.flush()
        if self._raw:
            transport.set_protocol(protocol)

    def flush(self) -> None:
        protocol = self._aiohttp
        if not self.active or protocol is None:
            return
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            protocol.data_received(data)
        if self._refusal is not None:
            reason = classify_parse_error(self._refusal, self._prefix)
            self._refusal = None
            protocol.queue_refusal(reason, self._prefix)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._aiohttp is not None:
            self._aiohttp.connection_lost(exc)

    def eof_received(self) -> bool | None:
        if self._aiohttp is not None:
            self._aiohttp.eof_received()
        return None

    def pause_writing(self) -> None:
        if self._aiohttp is not None:
            self._aiohttp.pause_writing()

    def resume_writing(self) -> None:
        if self._aiohttp is not None:
            self._aiohttp.resume_writing()
