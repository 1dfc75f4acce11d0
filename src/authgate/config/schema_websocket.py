"""Schema of WebSocket settings: a route's `websocket:` block and `limits.websockets`.

Contract: shapes and local rules only (offline, pure). `RouteWebSocketFields` is
mixed into RouteConfig; `WebSocketLimitsConfig` is the gateway-wide
`limits.websockets` block. Every field has a named default, so a route without a
`websocket:` block is still guarded: same-origin upgrades only, 1 MiB messages,
`DEFAULT_MAX_CONNECTIONS` per route. What each guard answers is in
docs/operations.md ("WebSockets").
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from authgate.config.schema_types import Strict
from authgate.origins import parse_origin

# RFC 6455 §10.4: an endpoint must bound what it buffers. 1 MiB holds any chat or
# JSON-RPC message and stops a peer from parking a gigabyte in our memory.
DEFAULT_MAX_MESSAGE = 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 1000  # per route and worker: well under a 1,024-fd limit x 2
# A browser user has a few tabs with one or two sockets each; a NAT'ed office shares
# one address, hence the larger per-address cap.
DEFAULT_MAX_PER_USER = 32
DEFAULT_MAX_PER_CLIENT_IP = 256


def _serialized_origin(value: str) -> str:
    origin = parse_origin(value)
    if origin is None:
        raise ValueError(
            f"not an origin: {value!r} (write scheme://host[:port], e.g. https://app.example.com)"
        )
    return str(origin)


SerializedOrigin = Annotated[str, AfterValidator(_serialized_origin)]


class WebSocketConfig(Strict):
    """One route's WebSocket guards."""

    # Origins besides the route's own (the scheme and Host the client used) whose
    # pages may open a WebSocket here. Exact origins: no wildcards.
    origins: list[SerializedOrigin] = Field(default_factory=list)
    # A handshake without `Origin` is not from a browser; refused unless this is
    # true or the request authenticated with a bearer token.
    allow_missing_origin: bool = False
    # Largest message (text or binary, after decompression), each direction.
    max_message: int = Field(default=DEFAULT_MAX_MESSAGE, ge=1)
    # Concurrent WebSockets on this route; null: no cap.
    max_connections: int | None = Field(default=DEFAULT_MAX_CONNECTIONS, ge=1)


class RouteWebSocketFields(Strict):
    """WebSocket keys of a route (mixed into RouteConfig)."""

    websocket: WebSocketConfig = Field(default_factory=WebSocketConfig)


class WebSocketLimitsConfig(Strict):
    """Concurrent WebSockets per user and per client IP, over all routes; null: no cap."""

    max_per_user: int | None = Field(default=DEFAULT_MAX_PER_USER, ge=1)
    max_per_client_ip: int | None = Field(default=DEFAULT_MAX_PER_CLIENT_IP, ge=1)
