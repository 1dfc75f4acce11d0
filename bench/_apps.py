"""The two small aiohttp+uvloop servers of `bench/http_bench.py`, one process each.

    python bench/_apps.py upstream --port P
    python bench/_apps.py proxy --port P --upstream http://127.0.0.1:U
    python bench/_apps.py soak --port P
    python bench/_apps.py otlp --port P

Both bind with SO_REUSEPORT, so starting the same command N times gives N processes
sharing one port (the kernel spreads connections over them), as `server.workers`
does for the gateway.

* `upstream`: answers every GET with the same ~100-byte text body and a
  Content-Length (no chunking). Access log off.
* `proxy`: the bare reverse proxy the gateway is compared with: no auth, no policy,
  no decision log. One `ClientSession` per process (pooled keep-alive connections
  to the upstream), hop-by-hop headers dropped both ways, the request body and the
  response body streamed as the gateway does (`StreamResponse` + `iter_any`).
* `soak`: the upstream of `bench/soak.py`: the `upstream` body for every GET, and
  the test bed's echo handlers (`tests/testbed/echo.py`) for `GET /__download?bytes=N`
  (N pattern bytes in 64 KiB pieces, with a Content-Length) and for a POST to any
  path (reads the whole body, answers its `body_bytes` and `body_sha256`).
* `otlp`: an OTLP/HTTP traces sink for `http_bench.py --tracing`: `POST /v1/traces`
  is read whole and answered 200 with an empty body — the protobuf encoding of an
  empty `ExportTraceServiceResponse`, which is success — and nothing is decoded, so
  the gateway's exporter costs what it would against a collector.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import uvloop
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

BODY = b"hello from the bench upstream: a small body of about one hundred bytes, as an API answer.\n"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
SKIP_AUTO = frozenset({"User-Agent", "Accept-Encoding", "Accept", "Content-Type"})
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def hello(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="text/plain")


def _end_to_end(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)


def proxy_app(upstream: str) -> web.Application:
    base = URL(upstream)

    async def handle(request: web.Request) -> web.StreamResponse:
        session = request.app[SESSION]
        url = base.with_path(request.raw_path.partition("?")[0], encoded=True).with_query(
            request.query_string
        )
        body = request.content if request.body_exists else None
        async with session.request(
            request.method,
            url,
            headers=_end_to_end(request.headers),
            data=body,
            allow_redirects=False,
            skip_auto_headers=SKIP_AUTO,
        ) as upstream_response:
            response = web.StreamResponse(
                status=upstream_response.status,
                reason=upstream_response.reason,
                headers=_end_to_end(upstream_response.headers),
            )
            await response.prepare(request)
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=64)
        app[SESSION] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        yield
        await app[SESSION].close()

    app = web.Application()
    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def soak_app() -> web.Application:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.testbed import echo

    app = web.Application()
    app.router.add_get("/__download", echo.download)
    app.router.add_post("/{tail:.*}", echo.echo)
    app.router.add_route("*", "/{tail:.*}", hello)
    return app


async def otlp_sink(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=b"", content_type="application/x-protobuf")


def otlp_app() -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", otlp_sink)
    return app


def upstream_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=True, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["upstream", "proxy", "soak", "otlp"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", help="proxy only: http://host:port")
    args = parser.parse_args()
    if args.kind == "proxy":
        if not args.upstream:
            parser.error("proxy needs --upstream")
        app = proxy_app(args.upstream)
    elif args.kind == "soak":
        app = soak_app()
    elif args.kind == "otlp":
        app = otlp_app()
    else:
        app = upstream_app()
    uvloop.run(serve(app, args.host, args.port))


if __name__ == "__main__":
    main()
