"""Is this a WebSocket opening handshake, and a well-formed one (RFC 6455 §4.2.1)?

Contract: `wants_websocket(method, headers)` says whether a request asks for a
WebSocket (a GET whose `Upgrade` names `websocket`); `handshake_problem(version,
headers)` then answers None for a handshake the gateway may relay, else the reason
to answer 400 — before any upstream is contacted, so a malformed handshake never
costs an upstream connection (and is never half-accepted by the upstream and then
refused by us with a 500). `VERSION` is the one protocol version spoken; a 400 for
`websocket-version-unsupported` carries it in `Sec-WebSocket-Version` (RFC 6455
§4.4). Pure module: the stdlib only (headers are anything with multidict's `getall`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Protocol

from authgate.decision import Reason


class Headers(Protocol):
    """Request headers that may repeat: a multidict (`CIMultiDictProxy`)."""

    def getall(self, key: str, default: Sequence[str], /) -> Sequence[str]: ...


VERSION = "13"
_KEY_BYTES = 16


def _tokens(headers: Headers, name: str) -> list[str]:
    """The comma-separated tokens of every `name` header, lowercased (RFC 9110 §5.6.1)."""
    return [
        token.strip().lower()
        for value in headers.getall(name, ())
        for token in value.split(",")
        if token.strip()
    ]


def wants_websocket(method: str, headers: Headers) -> bool:
    return method == "GET" and "websocket" in _tokens(headers, "Upgrade")


def handshake_problem(version: tuple[int, int], headers: Headers) -> Reason | None:
    """None for a valid client handshake; else why it is refused (each rule is §4.2.1's)."""
    # Item 1: HTTP/1.1 or higher. Item 3: `Upgrade: websocket`, nothing else — the
    # server's handshake answers exactly one protocol. Item 4: `Connection: Upgrade`,
    # without which an intermediary would not pass the upgrade on (RFC 9110 §7.8).
    if version < (1, 1) or _tokens(headers, "Upgrade") != ["websocket"]:
        return Reason.WEBSOCKET_HANDSHAKE_INVALID
    if "upgrade" not in _tokens(headers, "Connection"):
        return Reason.WEBSOCKET_HANDSHAKE_INVALID
    # Item 6 and §4.4: only version 13 (the RFC's). Versions 7 and 8 are drafts that
    # aiohttp would accept; a list or a repeated header is not a version either.
    if headers.getall("Sec-WebSocket-Version", ()) != [VERSION]:
        return Reason.WEBSOCKET_VERSION_UNSUPPORTED
    keys = headers.getall("Sec-WebSocket-Key", ())
    if len(keys) != 1 or not _is_key(keys[0]):
        return Reason.WEBSOCKET_HANDSHAKE_INVALID
    return None


def _is_key(value: str) -> bool:
    # Item 5: the base64 of 16 bytes (24 characters with padding). Strict base64:
    # stray characters are not skipped, as `b64decode` does by default.
    try:
        return len(base64.b64decode(value.strip(), validate=True)) == _KEY_BYTES
    except (binascii.Error, ValueError):
        return False
