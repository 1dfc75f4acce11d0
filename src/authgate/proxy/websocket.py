"""Relay a WebSocket connection between client and upstream, both ways.

Contract: `connect_upstream(...)` does the upstream handshake first, so a refused
upstream gets the same 502/504 answer as plain HTTP (`UpstreamError`); only then
does `relay_websocket(...)` upgrade the client, with the subprotocol the upstream
chose (RFC 6455 §4.2.2), and relay messages in both directions until either side
closes; the close code is passed on (one that may not be sent, such as 1006 for a
peer that vanished, becomes 1011) and returned. The caller checks the handshake,
the Origin and the caps before any of this (`server/websockets.py`), and connects on
a session of its own so tunnels never hold the HTTP pool.

Messages larger than `max_message` bytes (text or binary, after permessage-deflate
decompression) close both sides with 1009 "message too big" (RFC 6455 §7.4.1): a
frame declaring more than the limit (plus deflate's slack, `_reader_limit`) is
refused before its payload is buffered, fragments count toward their message, and
decompression stops at the limit (aiohttp's reader; RFC 6455 §10.4 asks an
endpoint to bound what it buffers).
While relayed, the client connection is in `live` (the app's `LIVE_WEBSOCKETS`), so
a graceful drain closes it with 1001 "going away" and the upstream gets that code.
A `Closer` lets the caller close a relayed connection from outside (its session ended:
1008 "policy violation" with a reason, RFC 6455 §7.4.1); both sides get that code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiohttp
from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

from authgate.decision import Reason
from authgate.ops.drain import GOING_AWAY, LiveWebSockets
from authgate.proxy.forward import UpstreamError

log = logging.getLogger(__name__)

MESSAGE_TOO_BIG = WSCloseCode.MESSAGE_TOO_BIG
# The client library builds its own handshake; these must not be copied from ours.
_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "content-length",
    }
)
_Socket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
# RFC 6455 §7.4.1: 1005 (no code given), 1006 (dropped without a close) and 1015
# (TLS failure) report what one side saw and "MUST NOT be set as a status code in a
# Close control frame": the other side gets a code it may receive instead.
_LOCAL_ONLY: dict[int, int] = {
    1005: WSCloseCode.OK,
    WSCloseCode.ABNORMAL_CLOSURE: WSCloseCode.INTERNAL_ERROR,
    1015: WSCloseCode.INTERNAL_ERROR,
}


class Closer:
    """Closes the client side of one relay from outside it; the upstream gets the code
    too. A close asked before the client is upgraded happens right after it is."""

    def __init__(self) -> None:
        self.code: int | None = None
        self._reason = b""
        self._client: web.WebSocketResponse | None = None
        self._task: asyncio.Task[bool] | None = None

    def close(self, code: int, reason: str) -> None:
        if self.code is not None:
            return
        # A close frame's reason is at most 123 bytes (RFC 6455 §5.5: 125 with the code).
        self.code, self._reason = code, reason.encode()[:123]
        if self._client is not None:
            self._start()

    def upgraded(self, client: web.WebSocketResponse) -> None:
        self._client = client
        if self.code is not None:
            self._start()

    def _start(self) -> None:
        assert self._client is not None and self.code is not None
        self._task = asyncio.ensure_future(self._client.close(code=self.code, message=self._reason))


def requested_protocols(request: web.Request) -> list[str]:
    return [
        p.strip()
        for value in request.headers.getall("Sec-WebSocket-Protocol", ())
        for p in value.split(",")
        if p.strip()
    ]


def _reader_limit(max_message: int) -> int:
    # aiohttp's reader refuses a frame (as declared, before its payload is read) or a
    # decompressed message of this many bytes or more. A compressed frame of a
    # message that does not deflate is a little longer than the message (zlib's
    # compressBound: n + n/4096 + n/16384 + 13), so the reader gets that slack and
    # `_too_big` holds every message to exactly `max_message`.
    return max_message + (max_message >> 10) + 64


def _handshake_budget(timeout: aiohttp.ClientTimeout) -> float | None:
    if timeout.connect is None or timeout.sock_read is None:
        return None
    return timeout.connect + timeout.sock_read


async def connect_upstream(
    session: aiohttp.ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    protocols: Sequence[str],
    max_message: int,
    timeout: aiohttp.ClientTimeout,
) -> aiohttp.ClientWebSocketResponse:
    ws_headers = CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HANDSHAKE)
    ws_url = url.with_scheme("wss" if url.scheme == "https" else "ws")
    try:
        # The route's connect + read timeouts bound the handshake; once upgraded, no
        # read timeout (ws_receive=None): a quiet tunnel is not a dead one.
        async with asyncio.timeout(_handshake_budget(timeout)):
            return await session.ws_connect(
                ws_url,
                headers=ws_headers,
                protocols=protocols,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0),
                autoping=True,
                max_msg_size=_reader_limit(max_message),
            )
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamError(Reason.UPSTREAM_TIMEOUT) from exc
    except aiohttp.WSServerHandshakeError as exc:
        log.warning("upstream %s refused the WebSocket handshake: %s", url.origin(), exc.status)
        raise UpstreamError(Reason.UPSTREAM_FAILED) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(Reason.UPSTREAM_UNREACHABLE) from exc


async def relay_websocket(
    request: web.Request,
    upstream: aiohttp.ClientWebSocketResponse,
    response_headers: dict[str, str],
    max_message: int,
    live: LiveWebSockets,
    closer: Closer | None = None,
) -> tuple[web.WebSocketResponse, int]:
    """Upgrade the client and relay until one side closes; answers the close code."""
    client = web.WebSocketResponse(
        protocols=[upstream.protocol] if upstream.protocol else (),
        autoping=True,
        max_msg_size=_reader_limit(max_message),
    )
    client.headers.update(response_headers)
    async with upstream:
        await client.prepare(request)
        # Registered so a graceful drain can close it with 1001 (going away).
        with live.track(client):
            if closer is not None:
                closer.upgraded(client)
            code = await _pump_both(client, upstream, live, max_message, closer)
    return client, code


async def _pump_both(
    client: web.WebSocketResponse,
    upstream: aiohttp.ClientWebSocketResponse,
    live: LiveWebSockets,
    max_message: int,
    closer: Closer | None,
) -> int:
    to_upstream = asyncio.create_task(_pump(client, upstream, max_message))
    to_client = asyncio.create_task(_pump(upstream, client, max_message))
    done, pending = await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    code = (to_upstream if to_upstream in done else to_client).result()
    if live.going_away:
        # Our own close of the client during a drain: its code is known only once the
        # client answers, so name it here for the upstream.
        code = GOING_AWAY
    elif closer is not None and closer.code is not None:
        code = closer.code  # ours: the session ended (1008), the upstream is told so
    code = _LOCAL_ONLY.get(code or WSCloseCode.OK, code or WSCloseCode.OK)
    await upstream.close(code=code)
    await client.close(code=code)
    return code


async def _pump(source: _Socket, sink: _Socket, max_message: int) -> int | None:
    """Relay `source` to `sink`; answers the close code to pass on to both sides."""
    async for message in source:
        if message.type is WSMsgType.TEXT or message.type is WSMsgType.BINARY:
            if _too_big(message.data, max_message):
                return MESSAGE_TOO_BIG
            if message.type is WSMsgType.TEXT:
                await sink.send_str(message.data)
            else:
                await sink.send_bytes(message.data)
        elif message.type is WSMsgType.ERROR:
            # aiohttp's reader refused the peer's data and closed it with the code of
            # the error (1009 for a message over the limit, 1002, 1007); `close_code`
            # is the peer's answer to that by now, so the error's code is passed on.
            log.info("websocket closed on a read error: %r", source.exception() or message.data)
            error = message.data
            return error.code if isinstance(error, WebSocketError) else source.close_code
    return source.close_code


def _too_big(data: str | bytes, max_message: int) -> bool:
    if isinstance(data, bytes):
        return len(data) > max_message
    # A character is at most 4 UTF-8 bytes: only a long text needs encoding to tell.
    return len(data) * 4 > max_message and len(data.encode()) > max_message
