"""Forward one HTTP request upstream and stream the answer back.

Contract: bodies stream both ways through bounded buffers (aiohttp's flow control);
nothing is read whole into memory. Failures before the upstream answered become an
`UpstreamError` (502 unreachable, 504 timeout) for the caller to render; failures
after the response started abort the client connection, since the status line is
already on the wire and a truncated body must not look complete, and raise
`UpstreamAborted` (reason `upstream-aborted`, or `upstream-timeout` for a stall) so the
record says so; a client that leaves raises `ClientGone`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from authgate.conn.refusals import BodyRefused
from authgate.decision import Reason
from authgate.outcomes import status as status_of
from authgate.proxy.headers import end_to_end

log = logging.getLogger(__name__)

# Headers the client library would otherwise invent: the upstream must see what the
# client sent, not aiohttp's defaults.
SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept-Encoding", "Accept", "Content-Type"})

RESPONSE_ONLY_DROP = ("server",)


class ClientGone(Exception):
    """The client closed its connection while the answer was being sent."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("client closed the connection")
        self.response = response


class UpstreamAborted(Exception):
    """The upstream's body broke off after the answer started; the client was cut off."""

    def __init__(self, response: web.StreamResponse, *, timed_out: bool) -> None:
        super().__init__("upstream body ended early")
        self.response = response
        self.reason = Reason.UPSTREAM_TIMEOUT if timed_out else Reason.UPSTREAM_ABORTED


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer in time (502 / 504)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.status = status_of(reason)


async def forward_http(
    request: web.Request,
    session: aiohttp.ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    timeout: aiohttp.ClientTimeout,
    response_headers: dict[str, str],
) -> tuple[web.StreamResponse, int]:
    """Send the request to `url`; return the streamed response and the upstream status."""
    body = request.content if request.body_exists else None
    try:
        upstream = await session.request(
            request.method,
            url,
            headers=headers,
            data=body,
            timeout=timeout,
            allow_redirects=False,
            skip_auto_headers=SKIP_AUTO_HEADERS,
        )
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
        _raise_if_body_refused(request)
        log.warning("upstream %s timed out: %r", url.origin(), exc)
        raise UpstreamError(Reason.UPSTREAM_TIMEOUT) from exc
    except aiohttp.ClientError as exc:
        _raise_if_body_refused(request)
        log.warning("upstream %s unreachable: %r", url.origin(), exc)
        raise UpstreamError(Reason.UPSTREAM_UNREACHABLE) from exc
    async with upstream:
        return await _relay_response(request, upstream, response_headers), upstream.status


def _raise_if_body_refused(request: web.Request) -> None:
    """The upstream request failed because the client's body was refused (too slow,
    too large): that is the client's refusal to answer, not an upstream failure."""
    failure = request.content.exception()
    if isinstance(failure, BodyRefused):
        raise failure


async def _relay_response(
    request: web.Request, upstream: aiohttp.ClientResponse, extra: dict[str, str]
) -> web.StreamResponse:
    # The gateway is the server the client talks to: the upstream's `Server` (often a
    # product and version) gives way to the gateway's, as nginx and Envoy do by default.
    headers = end_to_end(upstream.headers, RESPONSE_ONLY_DROP)
    headers.update(extra)
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    await _to_client(response.prepare(request), response)
    while chunk := await _from_upstream(request, upstream, response):
        await _to_client(response.write(chunk), response)
    await _to_client(response.write_eof(), response)
    return response


async def _to_client(sending: Awaitable[object], response: web.StreamResponse) -> None:
    try:
        await sending
    except ConnectionError as exc:
        # Writing to the client failed: the client left (aiohttp's
        # ClientConnectionResetError is one, and so is the plain ConnectionError a
        # write paused for backpressure gets). Not the gateway's error, not the upstream's.
        raise ClientGone(response) from exc


async def _from_upstream(
    request: web.Request, upstream: aiohttp.ClientResponse, response: web.StreamResponse
) -> bytes:
    """The next piece of the upstream's body; b"" once it ended as its framing says."""
    try:
        return await upstream.content.readany()
    except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
        # Fewer bytes than Content-Length, a chunked body without its last chunk
        # (aiohttp's ClientPayloadError), a reset, or a stall past the read timeout.
        # The status line is sent: the only honest signal left is a broken connection
        # (RFC 9112 §8: a client then knows the message is incomplete), and the record
        # must not call it a clean answer.
        log.warning("upstream body from %s failed mid-stream: %r", upstream.url.origin(), exc)
        if request.transport is not None:
            request.transport.abort()
        timed_out = isinstance(exc, asyncio.TimeoutError)
        raise UpstreamAborted(response, timed_out=timed_out) from exc
