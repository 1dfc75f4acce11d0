"""Free ports, waiting for ports, and child processes for the test bed.

Helpers shared by the fixtures in ``tests/testbed/`` (and usable by any test):

- ``free_port(host)``: a TCP port that was free on ``host`` a moment ago.
- ``wait_for_port(host, port, timeout, process=...)``: block until something accepts TCP
  connections; fails fast (with the process's output) if the given process died.
- ``async_wait_for_port(...)``: the same without blocking the event loop.
- ``ManagedProcess``: a child process whose stdout/stderr go to a log file, stopped with
  SIGTERM then SIGKILL, whose log is shown in every failure.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, NoReturn

import pytest

__all__ = [
    "ManagedProcess",
    "TestbedError",
    "async_wait_for_port",
    "fail_missing",
    "free_port",
    "port_is_open",
    "wait_for_port",
]

# Linux hands out ephemeral ports (bind to port 0, outgoing connections) from
# 32768-60999. Picking test ports below that range avoids a port we chose being taken by
# some unrelated outgoing connection before our server binds it.
_LOW, _HIGH = 20000, 32000


class TestbedError(RuntimeError):
    """A real part of the test bed could not be started or misbehaved."""

    __test__ = False  # not a test class, despite the name


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # No SO_REUSEADDR: a port in TIME_WAIT is not offered.
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is currently free on ``host``.

    There is an unavoidable window between this check and the caller's bind; ports are
    drawn at random from below the ephemeral range to make collisions unlikely even with
    several test runs in parallel.
    """
    rng = random.SystemRandom()
    for _ in range(50):
        port = rng.randrange(_LOW, _HIGH)
        if _bindable(host, port):
            return port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 10.0,
    *,
    process: ManagedProcess | None = None,
    what: str = "",
) -> float:
    """Block until ``host:port`` accepts connections; return the seconds waited.

    Raises ``TestbedError`` on timeout, or at once if ``process`` exits meanwhile (the
    message carries the process's log).
    """
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.005
    while True:
        if port_is_open(host, port):
            return time.monotonic() - started
        if process is not None and process.poll() is not None:
            process.raise_error(f"exited with code {process.returncode} before {host}:{port} opened")
        if time.monotonic() >= deadline:
            msg = f"{what or 'server'} did not open {host}:{port} within {timeout:.1f}s"
            if process is not None:
                process.raise_error(msg)
            raise TestbedError(msg)
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


async def async_wait_for_port(
    host: str,
    port: int,
    timeout: float = 10.0,
    *,
    process: ManagedProcess | None = None,
    what: str = "",
) -> float:
    """``wait_for_port`` for async code: never blocks the event loop."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    delay = 0.005
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
        except (OSError, asyncio.TimeoutError):
            pass
        else:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
            return loop.time() - started
        if process is not None and process.poll() is not None:
            process.raise_error(f"exited with code {process.returncode} before {host}:{port} opened")
        if loop.time() >= deadline:
            msg = f"{what or 'server'} did not open {host}:{port} within {timeout:.1f}s"
            if process is not None:
                process.raise_error(msg)
            raise TestbedError(msg)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


class ManagedProcess:
    """A child process of the test bed, with its output in ``log_path``.

    ``stdout`` may be ``subprocess.PIPE`` for a process that announces readiness there;
    otherwise stdout and stderr both go to the log file. ``stop()`` sends SIGTERM, then
    SIGKILL after ``kill_after`` seconds; it is idempotent.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdout_pipe: bool = False,
        stdin_pipe: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        try:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout_pipe else self._log,
                stderr=self._log,
                start_new_session=True,  # Ctrl-C in the terminal goes to pytest only
            )
        except OSError:
            self._log.close()
            raise
        self.pid = self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    def log_text(self, limit: int = 8000) -> str:
        """The last ``limit`` characters of the process's output."""
        self._log.flush()
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "<no log>"
        text = data.decode("utf-8", "replace")
        if len(text) > limit:
            text = "...\n" + text[-limit:]
        return text

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid}): {' '.join(self.argv)}"

    def _report(self, message: str) -> str:
        text = f"{self.describe()}\n{message}\n--- output ({self.log_path}) ---\n{self.log_text()}"
        if self.poll() is not None:
            self.stop()  # exited: release the log file and pipes
        return text

    def raise_error(self, message: str) -> NoReturn:
        raise TestbedError(self._report(message))

    def fail(self, message: str) -> NoReturn:
        """``pytest.fail`` with the process's output (no traceback noise)."""
        pytest.fail(self._report(message), pytrace=False)

    def check_alive(self) -> None:
        if self.poll() is not None:
            self.fail(f"died with exit code {self.returncode}")

    def stop(self, kill_after: float = 5.0) -> int | None:
        """Stop the process (SIGTERM, then SIGKILL); return its exit code."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGTERM)
                self.popen.wait(kill_after)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
            except ProcessLookupError:
                pass
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if not self._log.closed:
            self._log.close()
        return self.popen.returncode

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fail_missing(message: str) -> NoReturn:
    """Fail a fixture because a system part is missing, with the command that fixes it."""
    pytest.fail(message, pytrace=False)
