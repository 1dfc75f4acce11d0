"""`authgate serve`: load the config, pick the event loop, run until signalled.

Contract: returns an exit code. A bad config prints every problem and returns 1
without binding a port. SIGTERM/SIGINT stop accepting and let in-flight requests
finish up to `server.shutdown_timeout` (aiohttp's graceful shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from authgate.config.errors import ConfigError
from authgate.config.schema import ServerConfig
from authgate.config.snapshot import Snapshot, build_snapshot
from authgate.mutate.assertion import AssertionKeyError
from authgate.server.app import build_app
from authgate.server.pages import TemplateError

log = logging.getLogger("authgate")


class StartupError(Exception):
    """Something the gateway needs at start (keys, templates, files) is unusable."""


def serve(config_path: str) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        snapshot = build_snapshot(config_path)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    try:
        _run(_serve(snapshot), snapshot.config.server.event_loop)
    except StartupError as error:
        print(f"authgate: cannot start: {error}", file=sys.stderr)
        return 1
    return 0


def _run(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if event_loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


async def _serve(snapshot: Snapshot) -> None:
    server = snapshot.config.server
    try:
        runner = web.AppRunner(
            build_app(snapshot), access_log=None, shutdown_timeout=server.shutdown_timeout
        )
        await runner.setup()
    except (AssertionKeyError, TemplateError, OSError) as error:
        # Keys, pages and files are read at start: a problem there is the operator's
        # to fix, said in one line — not a traceback.
        raise StartupError(str(error)) from error
    host, port = _split_listen(server.listen)
    site = web.TCPSite(runner, host or None, port, ssl_context=_ssl_context(server), backlog=1024)
    await site.start()
    log.info("authgate listening on %s (%d routes)", server.listen, len(snapshot.config.routes))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("authgate stopping: draining in-flight requests")
    await runner.cleanup()


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def _ssl_context(server: ServerConfig) -> ssl.SSLContext | None:
    if server.tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.tls.cert, server.tls.key)
    return context
