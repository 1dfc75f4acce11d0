"""The connection limits in force, built once per config snapshot.

Contract: `ConnectionLimits.from_config(config)` is pure. The HTTP parser gets the
size limits (request line, one field, field count) when a connection is made; the
clock gets the timeouts; the peer table the caps. A reload applies to connections
made after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from authgate.config.schema import GatewayConfig

# The request line (method, target, version). Longer targets get 414; 16 KiB is
# above every browser's URL length and what the gateway allowed before.
MAX_REQUEST_LINE = 16384

# A connection over its address's cap waits this long for its request, so that the
# 503 answers a request the client sent instead of racing it (a close with unread
# data resets the connection and can destroy the answer in flight).
REFUSED_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    header_read: float
    idle: float
    body_read: float
    body_min_rate: int  # bytes/s; 0: no rate check
    body_grace: float


REFUSED_TIMEOUTS = Timeouts(REFUSED_WAIT, REFUSED_WAIT, REFUSED_WAIT, 0, REFUSED_WAIT)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    timeouts: Timeouts
    max_body: int  # until the route is known: the largest any route allows
    max_header_bytes: int
    max_headers: int
    max_request_line: int
    per_ip: int
    per_trusted_proxy: int

    @classmethod
    def from_config(cls, config: GatewayConfig) -> ConnectionLimits:
        server = config.server
        t = server.timeouts
        route_limits = [route.max_body for route in config.routes if route.max_body is not None]
        return cls(
            Timeouts(t.header_read, t.idle, t.body_read, t.body_min_rate, t.body_grace),
            max_body=max([server.max_body, *route_limits]),
            max_header_bytes=server.max_header_bytes,
            max_headers=server.max_headers,
            max_request_line=MAX_REQUEST_LINE,
            per_ip=server.max_connections_per_ip,
            per_trusted_proxy=server.max_connections_per_trusted_proxy,
        )

    def cap(self, trusted: bool) -> int:
        return self.per_trusted_proxy if trusted else self.per_ip

    def timeouts_for(self, admitted: bool) -> Timeouts:
        """A connection over its address's cap owes its request within REFUSED_WAIT."""
        return self.timeouts if admitted else REFUSED_TIMEOUTS


@runtime_checkable
class BodyLimited(Protocol):
    """A data plane that counts a request body as it arrives (chunked bodies)."""

    def limit_body(self, body: object, max_bytes: int) -> None:
        """Refuse `body` (BodyRefused to its reader) once it exceeds `max_bytes`."""
