"""Echo upstream: an aiohttp app that reports exactly what it received.

Fixture `echo_upstream` (function scope) serves on 127.0.0.1 with a free port:
  * any path            -> JSON {method, raw_target, headers: [[name, value], ...],
                           body_bytes, body_sha256, peer}
  * /__download?bytes=N -> N bytes streamed in 64 KiB chunks (pattern bytes)
  * /__slow?seconds=S   -> answers after S seconds
  * /__status/CODE      -> an empty answer with that status
  * /__ws               -> WebSocket echo (text and binary), closes with 4001 on "bye"
Run standalone with `python -m tests.testbed.echo PORT` (used by demos and benches).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

CHUNK = 64 * 1024
PATTERN = bytes(range(256)) * (CHUNK // 256)


def pattern_pieces(size: int) -> Iterator[bytes]:
    """The `size` bytes /__download sends (and uploads send): PATTERN, CHUNK at a time."""
    while size > 0:
        piece = PATTERN[: min(CHUNK, size)]
        size -= len(piece)
        yield piece


def pattern_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for piece in pattern_pieces(size):
        digest.update(piece)
    return digest.hexdigest()


async def echo(request: web.Request) -> web.Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_any():
        digest.update(chunk)
        size += len(chunk)
    return web.json_response(
        {
            "method": request.method,
            "raw_target": request.raw_path,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
            "body_bytes": size,
            "body_sha256": digest.hexdigest(),
            "peer": request.remote,
        }
    )


async def download(request: web.Request) -> web.StreamResponse:
    size = int(request.query["bytes"])
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = size
    await response.prepare(request)
    for piece in pattern_pieces(size):
        await response.write(piece)
    await response.write_eof()
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("seconds", "5")))
    return web.json_response({"slow": True})


async def status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]))


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat", "echo"))
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.TEXT and message.data == "bye":
            await ws.close(code=4001, message=b"bye")
        elif message.type is WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type is WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


def build_echo_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/__download", download)
    app.router.add_get("/__slow", slow)
    app.router.add_route("*", "/__status/{code}", status)
    app.router.add_get("/__ws", websocket)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def echo_upstream() -> AsyncIterator[TestServer]:
    server = TestServer(build_echo_app(), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


if __name__ == "__main__":
    web.run_app(build_echo_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None)
