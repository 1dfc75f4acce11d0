"""Relay a WebSocket connection between client and upstream, both ways.

Contract: the upstream handshake happens first, so a refused upstream gets the same
502/504 answer as plain HTTP; only then is the client upgraded, with the subprotocol
the upstream chose (RFC 6455 §4.2.2). Messages are relayed in both directions until
either side closes; the close code is passed on. While relayed, the client connection
is in the app's `LIVE_WEBSOCKETS` (when there is one), so a graceful drain closes it
with 1001 "going away" and the upstream gets the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

from authgate.decision import Reason
from authgate.ops.drain import GOING_AWAY, LIVE_WEBSOCKETS, LiveWebSockets
from authgate.proxy.forward import UpstreamError

log = logging.getLogger(__name__)

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


def is_websocket_upgrade(request: web.Request) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("Upgrade", "").lower() == "websocket"
    )


async def relay_websocket(
    request: web.Request,
    session: aiohttp.ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    timeout: aiohttp.ClientTimeout,
    response_headers: dict[str, str],
) -> tuple[web.StreamResponse, int]:
    protocols = [
        p.strip()
        for value in request.headers.getall("Sec-WebSocket-Protocol", ())
        for p in value.split(",")
        if p.strip()
    ]
    ws_headers = CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HANDSHAKE)
    ws_url = url.with_scheme("wss" if url.scheme == "https" else "ws")
    try:
        upstream = await session.ws_connect(
            ws_url,
            headers=ws_headers,
            protocols=protocols,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0),
            autoping=True,
            max_msg_size=0,
        )
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamError(Reason.UPSTREAM_TIMEOUT, 504) from exc
    except aiohttp.WSServerHandshakeError as exc:
        log.warning("upstream %s refused the WebSocket handshake: %s", url.origin(), exc.status)
        raise UpstreamError(Reason.UPSTREAM_FAILED, 502) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(Reason.UPSTREAM_UNREACHABLE, 502) from exc
    client = web.WebSocketResponse(
        protocols=[upstream.protocol] if upstream.protocol else (),
        autoping=True,
        max_msg_size=0,
    )
    client.headers.update(response_headers)
    live = request.app.get(LIVE_WEBSOCKETS)
    async with upstream:
        await client.prepare(request)
        # Registered so a graceful drain can close it with 1001 (going away).
        with live.track(client) if live is not None else contextlib.nullcontext():
            await _pump_both(client, upstream, live)
    return client, 101


async def _pump_both(
    client: web.WebSocketResponse,
    upstream: aiohttp.ClientWebSocketResponse,
    live: LiveWebSockets | None = None,
) -> None:
    to_upstream = asyncio.create_task(_pump(client, upstream))
    to_client = asyncio.create_task(_pump(upstream, client))
    done, pending = await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    code = client.close_code if to_upstream in done else upstream.close_code
    if live is not None and live.going_away:
        # Our own close of the client during a drain: its code is known only once the
        # client answers, so name it here for the upstream.
        code = GOING_AWAY
    code = code or aiohttp.WSCloseCode.OK
    await upstream.close(code=code)
    await client.close(code=code)


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type is WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type is WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type is WSMsgType.ERROR:
            log.warning("websocket error: %r", source.exception())
            return
