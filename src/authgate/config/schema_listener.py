"""Schema of the public listener's connection limits: timeouts, sizes, the per-IP cap.

Contract: shapes, named defaults and local rules only (offline, pure).
`ServerListenerFields` is mixed into `ServerConfig` (`server.timeouts`,
`server.max_body`, `server.max_header_bytes`, `server.max_headers`,
`server.max_connections_per_ip`, `server.max_connections_per_trusted_proxy`);
`RouteBodyFields` into `RouteConfig` (a route's own `max_body`). What each limit
answers is in docs/limits.md; `authgate.conn` enforces them.

A size is an integer number of bytes or a number with a unit: `512`, `32KiB`,
`10MiB`, `1GiB` (binary units; `KB`/`MB`/`GB` are read as the same binary units,
which is what operators mean by them in body limits).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field

from authgate.config.schema_types import Duration, Strict

_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB|k|K|M|G)?\s*$")
_UNIT_BYTES = {
    None: 1, "B": 1,
    "KiB": 1 << 10, "KB": 1 << 10, "k": 1 << 10, "K": 1 << 10,
    "MiB": 1 << 20, "MB": 1 << 20, "M": 1 << 20,
    "GiB": 1 << 30, "GB": 1 << 30, "G": 1 << 30,
}  # fmt: skip


def _parse_size(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    found = _SIZE.match(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"not a size: {value!r} (write e.g. 4096, 32KiB, 10MiB, 1GiB)")
    return int(found.group(1)) * _UNIT_BYTES[found.group(2)]


ByteSize = Annotated[int, BeforeValidator(_parse_size), Field(ge=1)]

# Named defaults (docs/limits.md says what each one answers).
HEADER_READ = 10.0  # nginx client_header_timeout is 60 s; 10 s is what the issue asks
IDLE = 75.0  # nginx keepalive_timeout; longer than a load balancer's usual 60 s
BODY_READ = 60.0  # nginx client_body_timeout: the longest pause between body reads
BODY_MIN_RATE = 240  # bytes/s, ASP.NET Core Kestrel's MinRequestBodyDataRate
BODY_GRACE = 5.0  # Kestrel's grace period before the rate counts
MAX_BODY = 100 << 20
MAX_HEADER_BYTES = 32 << 10
MAX_HEADERS = 100
MAX_CONNECTIONS_PER_IP = 256
MAX_CONNECTIONS_PER_TRUSTED_PROXY = 4096


class ListenerTimeouts(Strict):
    """How long the gateway waits for a client (slowloris, slow POST)."""

    header_read: Duration = HEADER_READ  # first byte of a request -> end of its headers
    idle: Duration = IDLE  # a new connection, or between keep-alive requests
    body_read: Duration = BODY_READ  # at most this long without a body byte
    body_min_rate: int = Field(default=BODY_MIN_RATE, ge=0)  # bytes/s on average; 0 = off
    body_grace: Duration = BODY_GRACE  # the rate is checked from this long into the body


class ServerListenerFields(Strict):
    timeouts: ListenerTimeouts = Field(default_factory=ListenerTimeouts)
    # The default request body limit; a route's `max_body` replaces it.
    max_body: ByteSize = MAX_BODY
    # The header section (every field line; the request line is apart) and its lines.
    max_header_bytes: ByteSize = MAX_HEADER_BYTES
    max_headers: int = Field(default=MAX_HEADERS, ge=1, le=10_000)
    # Open connections per peer address (the socket's, never a forwarded header);
    # a peer in `trusted_proxies` carries many clients and has its own cap.
    max_connections_per_ip: int = Field(default=MAX_CONNECTIONS_PER_IP, ge=1)
    max_connections_per_trusted_proxy: int = Field(default=MAX_CONNECTIONS_PER_TRUSTED_PROXY, ge=1)


class RouteBodyFields(Strict):
    # This route's request body limit (uploads); unset: `server.max_body`.
    max_body: ByteSize | None = None
