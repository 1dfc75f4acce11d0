"""Header rewriting between client, gateway and upstream.

Contract: pure functions over header multidicts (no I/O).

* Hop-by-hop headers (RFC 9110 §7.6.1) and every header named in `Connection` are
  removed in both directions: they describe one connection, not the message, and a
  client that lists e.g. `X-Forwarded-For` or an identity header in `Connection`
  must not be able to make a proxy drop headers the upstream relies on.
* `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Port` and
  `Forwarded` (RFC 7239) are rebuilt. Values a client sent are kept (and extended)
  only when the peer is a trusted proxy; from anyone else they are replaced, because
  an untrusted client can write anything there (the class of spoofing behind
  oauth2-proxy's GHSA-4mf2-f3wh-gvf2 / CVE-2020-4037 style bugs). `X-Forwarded-Port`
  is the gateway's own listener port unless a trusted proxy sent one;
  `X-Forwarded-Prefix` is left to the caller (kept from a trusted proxy only). Every
  other spelling of these names (`X_Forwarded_For`) is removed before this runs
  (`authgate.mutate.spoofed`), so only the canonical ones are read here.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

# RFC 9110 §7.6.1 plus the legacy ones every proxy strips (RFC 2616 §13.5.1).
HOP_BY_HOP: frozenset[str] = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

FORWARDING: frozenset[str] = frozenset(
    {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip"}
)
PORT = "X-Forwarded-Port"


def connection_listed(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> set[str]:
    """Lower-cased names listed in every `Connection` header value."""
    listed: set[str] = set()
    for value in headers.getall("Connection", ()):
        listed.update(token.strip().lower() for token in value.split(",") if token.strip())
    return listed


def end_to_end(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], also_drop: Iterable[str] = ()
) -> CIMultiDict[str]:
    """Copy of `headers` without hop-by-hop headers and without `also_drop` names."""
    drop = HOP_BY_HOP | connection_listed(headers) | {name.lower() for name in also_drop}
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in drop)


@functools.lru_cache(maxsize=4096)
def _forwarded_node(ip: str) -> str:
    """RFC 7239 §6: IPv6 nodes are bracketed and quoted; unknown stays a token.
    Cached (bounded): parsing the peer on every forwarded request cost microseconds."""
    try:
        if isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address):
            return f'"[{ip}]"'
    except ValueError:
        return "unknown"
    return ip


def _is_port(value: str) -> bool:
    value = value.strip()
    return value.isascii() and value.isdigit() and 0 < int(value) < 65536


def _quote_if_needed(value: str) -> str:
    safe = all(c.isalnum() or c in "!#$%&'*+-.^_`|~:" for c in value)
    return value if safe and value else '"' + value.replace('"', "") + '"'


def set_forwarding(
    out: CIMultiDict[str],
    incoming: CIMultiDictProxy[str] | CIMultiDict[str],
    *,
    peer: str,
    peer_trusted: bool,
    proto: str,
    host: str,
    port: int | None = None,
) -> None:
    """Write X-Forwarded-* and Forwarded into `out` for the hop from `peer`.

    `proto` and `host` are what this gateway saw (or what a trusted proxy told it);
    `port` is the listener port the request arrived on.
    """
    for name in FORWARDING:
        out.popall(name, None)
    claimed_port = incoming.getall(PORT, ()) if peer_trusted else ()
    out.popall(PORT, None)
    if len(claimed_port) == 1 and _is_port(claimed_port[0]):
        out[PORT] = claimed_port[0].strip()
    elif port is not None:
        out[PORT] = str(port)
    chain = [v.strip() for v in incoming.getall("X-Forwarded-For", ()) if v.strip()]
    forwarded = [v.strip() for v in incoming.getall("Forwarded", ()) if v.strip()]
    if not peer_trusted:
        chain, forwarded = [], []
    chain.append(peer)
    out["X-Forwarded-For"] = ", ".join(chain)
    out["X-Forwarded-Proto"] = proto
    out["X-Forwarded-Host"] = host
    element = f"for={_forwarded_node(peer)};host={_quote_if_needed(host)};proto={proto}"
    forwarded.append(element)
    out["Forwarded"] = ", ".join(forwarded)
