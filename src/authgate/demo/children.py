"""The demo's child processes: start them, wait for their ports, stop them.

Contract: `refuse_taken(port)` raises `DemoError` when something already
listens there. `free_port()` is a loopback TCP port that was free a moment ago (the apps
bind it right after). `wait_for_port(port, child, timeout)` returns once something
accepts connections on 127.0.0.1:`port`, and raises `DemoError` if `child` exits
first or `timeout` seconds pass — the demo prints its URL only after this, so the
address a person opens is always answered. `stop(children)` ends each with SIGTERM,
then SIGKILL after a bounded wait.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence

HOST = "127.0.0.1"


class DemoError(RuntimeError):
    """A part of the demo did not start; the message says which and why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start(argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    # stdin is a pipe the children never read: the test bed's provider exits when it
    # closes (exitOnStdinClose), so a killed demo leaves no provider behind.
    return subprocess.Popen(list(argv), stdin=subprocess.PIPE, env=env)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def refuse_taken(port: int) -> None:
    # Checked first: with another server on the port, waiting for it to accept would
    # succeed at once and the printed URL would lead to that server.
    if _accepts(port):
        raise DemoError(f"127.0.0.1:{port} is already in use: try `make demo PORT={port + 1}`")


def wait_for_port(port: int, child: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _accepts(port):
        if child.poll() is not None:
            raise DemoError(f"{name} exited with code {child.returncode} before listening")
        if time.monotonic() > deadline:
            raise DemoError(f"{name} did not listen on {HOST}:{port} within {timeout:.0f} s")
        time.sleep(0.1)


def stop(children: Iterable[subprocess.Popen[bytes]]) -> None:
    running = [c for c in children if c.poll() is None]
    for child in running:
        child.terminate()
    for child in running:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
