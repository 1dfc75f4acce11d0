"""Raw connections for the connection-level tests: exact bytes, timed reads, source IPs.

Everything here speaks plain sockets (asyncio streams), never an HTTP client, so the
tests hold on any data plane. `connect(port, source=...)` binds the client side to a
loopback address (127.0.0.2, ...): each is a distinct peer for the per-IP cap.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from tests.testbed.gateway import Gateway

# Generous bound for "the gateway closed it": the configured timeouts are 1 s.
CLOSED_WITHIN = 6.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    version: str = "HTTP/1.1"

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, timeout: float = 10.0) -> Answer:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ")[:2]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return Answer(int(status), headers, body, version)

    async def closed_after(self, timeout: float = CLOSED_WITHIN) -> tuple[float, bytes]:
        """Read until the gateway closes; (seconds it took, bytes it sent meanwhile)."""
        started = time.monotonic()
        received = b""
        try:
            while True:
                chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
        return time.monotonic() - started, received

    def close(self) -> None:
        self.writer.close()


async def connect(port: int, source: str = "127.0.0.1") -> Conn:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return Conn(reader, writer)


def request(
    target: str = "/x",
    method: str = "GET",
    host: str = "echo.test",
    extra: str = "",
    close: bool = True,
) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return (
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
        f"{extra}{connection}\r\n"
    ).encode("latin-1")


def assert_refusal(answer: Answer, status: int, reason: str) -> str:
    """The gateway's own refusal: status, JSON reason, request id; returns the id."""
    assert answer.status == status, answer
    body = answer.json()
    assert body["reason"] == reason
    assert body["request_id"] == answer.headers["x-request-id"]
    assert b"Traceback" not in answer.body
    assert answer.headers["x-content-type-options"] == "nosniff"
    return str(body["request_id"])


def assert_refused_record(gateway: Gateway, request_id: str, status: int, reason: str) -> None:
    """The refusal's decision record: denied before any route, nothing sent upstream."""
    record = gateway.record(request_id)
    assert (record["reason"], record["status"], record["decision"]) == (reason, status, "deny")
    assert record["upstream_status"] is None and record["route"] is None
