"""`authgate serve`: load the config, start the worker(s), run until signalled.

Contract: `serve(path)` returns an exit code. A bad config prints every problem and
returns 1 without binding a port; so do keys, pages, files and folders that cannot be
used (`ops.preflight`, the same checks `check-config` runs, all printed at once), and a
listener that cannot be bound. With `server.workers > 1` the process becomes the
supervisor (`ops.supervisor`) and each worker it forks runs `run_worker`; with one
worker, this process is the worker. Operational logs: `ops.logs` (`log:`).

A worker serves `server.listen` and, when set, `server.admin_listen` (`ops.admin`),
both with SO_REUSEPORT when it has siblings. Signals:

* SIGTERM / SIGINT: graceful drain (`ops.drain`), then exit 0.
* SIGHUP: reload the config (`ops.reload`) and reopen the decision-log files (for
  logrotate). With one worker, a change of the config file reloads it too; with
  several, the supervisor watches the file and sends each worker SIGHUP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import ssl
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from authgate.config.errors import ConfigError
from authgate.config.references import workers_problems
from authgate.config.schema import GatewayConfig
from authgate.config.snapshot import Snapshot, build_snapshot
from authgate.mutate.assertion import AssertionKeyError
from authgate.ops.admin import build_admin_app
from authgate.ops.drain import SETTLE_SECONDS, drain
from authgate.ops.listeners import Listener, open_listeners
from authgate.ops.logs import configure_logging
from authgate.ops.metrics import Metrics
from authgate.ops.preflight import host_findings, listener_ssl_context
from authgate.ops.reload import watch
from authgate.ops.state_dir import StateDirError
from authgate.ops.supervisor import Supervisor
from authgate.ops.workers import SINGLE, WorkerSlot
from authgate.server.app import RELOADER, build_app
from authgate.server.pages import TemplateError
from authgate.server.protocol import GatewayRunner
from authgate.server.state import DECISION_LOG

log = logging.getLogger("authgate")


class StartupError(Exception):
    """Something the gateway needs at start (keys, templates, files) is unusable."""


def serve(config_path: str) -> int:
    try:
        snapshot = build_snapshot(config_path)
    except ConfigError as error:
        configure_logging(None, several=False)
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    problems = workers_problems(snapshot.config)
    if problems:
        for problem in problems:
            print(dataclasses.replace(problem, file=config_path), file=sys.stderr)
        return 1
    refusals = host_findings(snapshot.config, ports=False).errors
    if refusals:
        for problem in refusals:
            print(f"authgate: cannot start: {problem.key} {problem.message}", file=sys.stderr)
        return 1
    several = snapshot.config.server.workers > 1
    configure_logging(snapshot.config, several=several)
    if several:
        return Supervisor(snapshot, run_worker).run()
    return run_worker(snapshot, SINGLE)


def run_worker(snapshot: Snapshot, slot: WorkerSlot) -> int:
    """One worker: its own event loop, until drained. Returns the exit code."""
    try:
        _run(_serve(snapshot, slot), snapshot.config.server.event_loop)
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


async def _serve(snapshot: Snapshot, slot: WorkerSlot) -> None:
    server = snapshot.config.server
    app = build_app(snapshot, metrics=Metrics(multiprocess_dir=slot.metrics_dir))
    runner = GatewayRunner(app, access_log=None, shutdown_timeout=server.shutdown_timeout)
    # The grants API (and its token file) only where an admin listener will serve it.
    grants = server.state_dir if snapshot.config.entitlements and server.admin_listen else None
    admin = web.AppRunner(build_admin_app(app, grants_state_dir=grants), access_log=None, shutdown_timeout=1.0)
    try:
        listeners, admin_listeners = await _start(runner, admin, snapshot.config, slot)
    except BaseException:
        await admin.cleanup()
        await runner.cleanup()
        raise
    log.info("authgate listening on %s (%d routes)%s", server.listen, len(snapshot.config.routes),
             f", admin on {server.admin_listen}" if server.admin_listen else "")
    slot.announce_ready()
    stop = asyncio.Event()
    background: set[asyncio.Task[None]] = set()
    _handle_signals(app, stop, background)
    if not slot.shared:  # with siblings, the supervisor watches and signals
        background.add(asyncio.create_task(watch(app[RELOADER]), name="config-watch"))
    await stop.wait()
    log.info("authgate stopping: draining in-flight requests")
    for task in background:
        task.cancel()
    await drain(runner, listeners, settle=min(SETTLE_SECONDS, server.shutdown_timeout))
    for listener in admin_listeners:
        await listener.close(admin)
    await admin.cleanup()
    log.info("authgate stopped")


async def _start(
    runner: web.AppRunner, admin: web.AppRunner, config: GatewayConfig, slot: WorkerSlot
) -> tuple[list[Listener], list[Listener]]:
    server = config.server
    try:
        await runner.setup()
        await admin.setup()
        listeners = _open(server.listen, slot, listener_ssl_context(config))
        try:
            admin_listeners = _open(server.admin_listen, slot, None) if server.admin_listen else []
        except OSError:
            for listener in listeners:
                listener.sock.close()
            raise
    except (
        AssertionKeyError, StateDirError, TemplateError, OSError, ssl.SSLError, ValueError
    ) as error:
        # Keys, pages, files and ports are checked at start: a problem there is the
        # operator's to fix, said in one line — not a traceback.
        raise StartupError(str(error)) from error
    for listener in listeners:
        await listener.start(runner)
    for listener in admin_listeners:
        await listener.start(admin)
    return listeners, admin_listeners


def _open(listen: str, slot: WorkerSlot, context: ssl.SSLContext | None) -> list[Listener]:
    try:
        return open_listeners(listen, reuse_port=slot.shared, ssl_context=context)
    except OSError as error:
        raise OSError(f"cannot listen on {listen}: {error.strerror or error}") from error


def _handle_signals(
    app: web.Application, stop: asyncio.Event, background: set[asyncio.Task[None]]
) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def hangup() -> None:
        task = asyncio.create_task(_on_hangup(app), name="sighup")
        background.add(task)
        task.add_done_callback(background.discard)

    loop.add_signal_handler(signal.SIGHUP, hangup)


async def _on_hangup(app: web.Application) -> None:
    await app[DECISION_LOG].reopen()
    await app[RELOADER].reload("SIGHUP")
