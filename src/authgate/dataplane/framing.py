"""Bytes on the wire for the data plane: heads, chunks and the gateway's own answers.

Contract: pure functions (the clock read for `Date` is cached per second). Header
values arrive from llhttp already validated (no CR, LF or NUL: RFC 9110 §5.5), and
the gateway's own values are ASCII, so a head is assembled without re-checking.

* `response_head` filters an upstream's response header list: hop-by-hop fields and
  every field its `Connection` names are dropped (RFC 9110 §7.6.1), and so is the
  upstream's `Server` (the gateway is the server the client talks to, as nginx and
  Envoy do by default); the framing is the gateway's own (`Framing`).
* `answer_bytes` serializes a `web.Response` the gateway built (a page, JSON, a
  redirect with cookies) the way aiohttp would send it.
"""

from __future__ import annotations

import enum
import functools
import time
from collections.abc import Iterable, Mapping
from email.utils import formatdate

from aiohttp import web

from authgate.server.page_headers import SERVER_NAME

HOP_BY_HOP_BYTES = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Framing fields the gateway writes itself, in both directions.
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})
_RESPONSE_DROP = HOP_BY_HOP_BYTES | _FRAMING | {b"server"}
_SERVER_LINE = b"Server: " + SERVER_NAME.encode("ascii") + b"\r\n"
CHUNKED_END = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Framing(enum.Enum):
    """How a body is delimited on one side (RFC 9112 §6)."""

    NONE = "none"  # no body at all (HEAD, 204, 304, a request without one)
    LENGTH = "length"  # Content-Length
    CHUNKED = "chunked"
    CLOSE = "close"  # until the connection closes (HTTP/1.0 style)


_date_second = -1
_date_line = b""


def date_line() -> bytes:
    """`Date: ...\r\n` (RFC 9110 §6.6.1), formatted once per second."""
    global _date_second, _date_line
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_line = b"Date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"
    return _date_line


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1); never the empty last chunk."""
    return b"%x\r\n%b\r\n" % (len(data), data)


@functools.lru_cache(maxsize=256)
def _lowered(names: tuple[str, ...]) -> frozenset[bytes]:
    """The gateway's own response field names, as the upstream's are compared."""
    return frozenset(name.lower().encode("latin-1") for name in names)


def connection_tokens(fields: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Lower-cased names every `Connection` field lists (RFC 9110 §7.6.1)."""
    listed: set[bytes] = set()
    for name, value in fields:
        if name.lower() == b"connection":
            listed.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return frozenset(listed)


def response_head(
    status: int,
    reason: bytes,
    fields: list[tuple[bytes, bytes]],
    extra: Mapping[str, str],
    *,
    framing: Framing,
    length: int | None,
    keep_alive: bool,
) -> bytes:
    """The client's response head for an upstream's answer.

    `extra` (the request id, rate-limit fields) replaces upstream fields of the same
    name. `length` is the upstream's Content-Length with `Framing.LENGTH`, and is kept
    on HEAD and 304 answers (`Framing.NONE`) where the upstream sent one.
    """
    lowered = [name.lower() for name, _ in fields]
    drop = _RESPONSE_DROP
    if b"connection" in lowered:
        drop = drop | connection_tokens(fields)
    if extra:
        drop = drop | _lowered(tuple(extra))
    parts = [b"HTTP/1.1 %d %b\r\n" % (status, reason or b"")]
    parts.extend(
        b"%b: %b\r\n" % field for field, low in zip(fields, lowered) if low not in drop
    )
    parts.extend(f"{name}: {text}\r\n".encode("latin-1") for name, text in extra.items())
    parts.append(_SERVER_LINE)
    if framing is Framing.CHUNKED:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif length is not None and framing in (Framing.LENGTH, Framing.NONE):
        parts.append(b"Content-Length: %d\r\n" % length)
    if not keep_alive:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def request_head(
    method: str, target: str, headers: Iterable[tuple[str, str]], framing: Framing, length: int | None
) -> bytes:
    """The upstream's request head. `headers` come from the mutator (end-to-end
    fields only, `Host` set); the framing is the gateway's own: what it forwards is
    exactly the body llhttp parsed, never a length the client claimed beside it."""
    parts = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1")]
    for name, value in headers:
        lowered = name.lower()
        if lowered in ("content-length", "transfer-encoding"):
            continue
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    if framing is Framing.CHUNKED:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    elif framing is Framing.LENGTH:
        parts.append(b"Content-Length: %d\r\n" % (length or 0))
    parts.append(b"\r\n")
    return b"".join(parts)


def answer_bytes(response: web.Response, *, keep_alive: bool, head_only: bool) -> bytes:
    """A gateway answer as aiohttp would send it: status, fields, cookies, body."""
    body = response.body
    payload = body if isinstance(body, bytes) else b""
    reason = response.reason or ""
    parts = [f"HTTP/1.1 {response.status} {reason}\r\n".encode("latin-1")]
    has_date = has_server = False
    for name, value in response.headers.items():
        lowered = name.lower()
        if lowered in ("content-length", "transfer-encoding", "connection"):
            continue
        has_date = has_date or lowered == "date"
        has_server = has_server or lowered == "server"
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    for morsel in response.cookies.values():
        parts.append(f"Set-Cookie: {morsel.output(header='')[1:]}\r\n".encode("latin-1"))
    if not has_date:
        parts.append(date_line())
    if not has_server:
        parts.append(_SERVER_LINE)
    parts.append(b"Content-Length: %d\r\n" % len(payload))
    if not keep_alive:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    if not head_only:
        parts.append(payload)
    return b"".join(parts)
