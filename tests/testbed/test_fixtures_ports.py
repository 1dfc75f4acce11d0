"""Port and process helpers of the test bed."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.testbed.ports import (
    ManagedProcess,
    TestbedError,
    async_wait_for_port,
    free_port,
    port_is_open,
    wait_for_port,
)


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 < port < 65536
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert free_port("127.0.0.2") > 1024


def test_wait_for_port_sees_a_listener_and_times_out() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert wait_for_port("127.0.0.1", port, timeout=2) < 2
    assert not port_is_open("127.0.0.1", port)
    with pytest.raises(TestbedError, match="did not open"):
        wait_for_port("127.0.0.1", port, timeout=0.2)


async def test_async_wait_for_port() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await async_wait_for_port("127.0.0.1", port, timeout=2) < 2
    finally:
        server.close()
        await server.wait_closed()


def test_a_dying_process_shows_its_output(tmp_path: Path) -> None:
    code = "import sys; print('about to fail', file=sys.stderr); sys.exit(3)"
    process = ManagedProcess("dier", [sys.executable, "-c", code], tmp_path / "dier.log")
    with pytest.raises(TestbedError) as info:
        wait_for_port("127.0.0.1", free_port(), timeout=10, process=process)
    message = str(info.value)
    assert "exited with code 3" in message and "about to fail" in message
    assert process.stop() == 3


def test_stop_is_idempotent_and_kills_a_stubborn_process(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    process = ManagedProcess("stubborn", [sys.executable, "-c", code], tmp_path / "s.log")
    for _ in range(200):
        if "up" in process.log_text():
            break
        time.sleep(0.02)
    assert process.stop(kill_after=0.3) == -9
    assert process.stop() == -9
