"""Raw HTTP helpers for proxy tests: exact request bytes, no client-side normalization."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def raw_request(
    port: int, request: bytes, host: str = "127.0.0.1", timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """Send exact bytes (no client-side URL normalization) and read one response."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        return status, headers, body
    finally:
        writer.close()


def get(target: str, host: str = "echo.test", extra: str = "") -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
        f"{extra}Connection: close\r\n\r\n"
    ).encode("latin-1")


def echoed(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)
    return data


def header_values(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]
