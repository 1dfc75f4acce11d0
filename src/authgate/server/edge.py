"""The aiohttp front end's one reading of a request: `wire_from_aiohttp`.

Contract: every part of the aiohttp front end that needs the request's facts gets
them from the `Wire` built here, once per request and kept on the request
(`wire_of`), so the handler, the endpoints and forward-auth see the same values and
nothing below the edge reads `web.Request` (tests/test_purity.py). An absolute-form
request reaches it already as origin-form with the target's authority as its Host
(`server/protocol.py` rewrites aiohttp's message, `conn.absolute_form`), so the Wire,
and aiohttp's own `request.host` and `request.url`, read the host that is served.
"""

from __future__ import annotations

import ssl

from aiohttp import web

from authgate.wire import Wire

_WIRE = web.RequestKey("wire", Wire)


def wire_from_aiohttp(request: web.BaseRequest) -> Wire:
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    port = int(sockname[1]) if isinstance(sockname, tuple) and len(sockname) >= 2 else None
    return Wire(
        method=request.method,
        raw_target=request.raw_path,
        version=(request.version.major, request.version.minor),
        headers=request.headers,
        peer=request.remote or "unknown",
        secure=request.secure,
        listener_port=port,
        ssl_object=ssl_object if isinstance(ssl_object, ssl.SSLObject) else None,
    )


def wire_of(request: web.Request) -> Wire:
    """The request's `Wire`, built on first use and kept for the rest of it."""
    wire = request.get(_WIRE)
    if wire is None:
        wire = request[_WIRE] = wire_from_aiohttp(request)
    return wire
