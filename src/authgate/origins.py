"""Web origins (RFC 6454): parse, compare, and check a WebSocket handshake's `Origin`.

Contract: `parse_origin(text)` reads a serialized origin `scheme://host[:port]`
(http or https only) into an `Origin` with the scheme and host lowercased, IPv6 in
its compressed form and the port always filled in (80 / 443 when left out), or
answers None for anything else — `null`, a path, userinfo, a bad port. Two origins
are the same when their three parts are equal (RFC 6454 §5). `check_origin(values,
own=, allowed=, missing_ok=)` is the Cross-Site WebSocket Hijacking guard: it answers
None when the handshake may go on, else the reason to refuse it. Pure module:
stdlib and `authgate.decision` only, so the config schema can use it.

Why (CSWSH): a browser opens a WebSocket to any site with that site's cookies and
no same-origin check — the WebSocket handshake is not subject to CORS — so a page on
`evil.example` can drive a signed-in user's session on our route. The only signal
the server gets is the `Origin` header, which browsers always send on a WebSocket
handshake (RFC 6455 §4.1 item 8, §10.2) and which a page cannot forge.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Sequence
from typing import NamedTuple

from authgate.decision import Reason

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 6454 §6.2 serialization: scheme "://" host [ ":" port ], nothing after it.
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


class Origin(NamedTuple):
    scheme: str  # http or https
    host: str  # lowercase; IPv6 compressed, in brackets
    port: int

    def __str__(self) -> str:
        if _DEFAULT_PORTS[self.scheme] == self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_origin(text: str) -> Origin | None:
    """`text` as an http(s) origin, or None (`null`, paths, userinfo, bad ports)."""
    found = _ORIGIN.fullmatch(text.strip())
    if found is None:
        return None
    scheme = found["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    host = _host(found["host"])
    port = int(found["port"]) if found["port"] is not None else _DEFAULT_PORTS[scheme]
    if host is None or not 0 < port < 65536 or ".." in host:
        return None
    return Origin(scheme, host, port)


def _host(text: str) -> str | None:
    if not text.startswith("["):
        return text.lower()
    try:
        return f"[{ipaddress.IPv6Address(text[1:-1]).compressed}]"
    except ValueError:
        return None


def check_origin(
    values: Sequence[str],
    *,
    own: Origin | None,
    allowed: Collection[Origin] = (),
    missing_ok: bool = False,
) -> Reason | None:
    """None when the handshake's `Origin` values may open a WebSocket, else why not.

    `own` is the route's origin as the client addressed it; `allowed` are the
    others the route lists. `missing_ok` says a handshake without `Origin` (not a
    browser, RFC 6455 §4.1 item 8) may go on.
    """
    if not values:
        return None if missing_ok else Reason.WEBSOCKET_ORIGIN_MISSING
    if len(values) > 1:
        # RFC 6454 §7.3: one origin list; two headers are a smuggling attempt or a
        # broken intermediary, and whichever the upstream reads was not checked.
        return Reason.WEBSOCKET_ORIGIN_DENIED
    # `null` (sandboxed iframes, file: pages, some redirects) names no origin that
    # could be allowed: it never parses, so it is always refused.
    origin = parse_origin(values[0])
    if origin is not None and (origin == own or origin in allowed):
        return None
    return Reason.WEBSOCKET_ORIGIN_DENIED
