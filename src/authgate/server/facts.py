"""Build `RequestFacts` from the request as read from the wire (`authgate.wire.Wire`).

Contract: returns the facts and, when the request cannot be routed safely, the reason
it must be refused (bad Host, a path that cannot be represented safely). Forwarded
headers are read only from trusted peers (see `authgate.client_ip`).
`resolve_target(hosts, raw_target)` is the host/path/query half of that work, shared
with forward-auth (`server/forward_auth.py`), which gets the same three from a
trusted proxy's headers instead of the request line: both modes normalize exactly
alike, so a URL is authorized in the form the upstream will see.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

from authgate.client_ip import client_ip
from authgate.decision import Reason
from authgate.facts import RequestFacts
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.request_id import request_id
from authgate.routing import (
    HostRejected,
    PathRejected,
    check_query,
    normalize_host,
    normalize_path,
    split_target,
)
from authgate.server.state import ServerRuntime
from authgate.wire import Wire


class Target(NamedTuple):
    """A request's host, path and query, normalized; `problem` when refused."""

    host: str  # "" when missing or invalid
    path: str  # "" when refused
    query: str
    problem: Reason | None


def resolve_target(hosts: Sequence[str], raw_target: str) -> Target:
    """Normalize the Host values and the origin-form target as routes match them."""
    problem: Reason | None = None
    host = _host(hosts)
    if host is None:
        problem, host = Reason.HOST_INVALID, ""
    raw_path, query = split_target(raw_target)
    try:
        path = normalize_path(raw_path)
        check_query(query)
    except PathRejected:
        problem, path = problem or Reason.PATH_INVALID, ""
    return Target(host, path, query, problem)


def gather_facts(wire: Wire, runtime: ServerRuntime) -> tuple[RequestFacts, Reason | None]:
    started = time.monotonic()
    headers = wire.headers
    peer = wire.peer
    trusted = runtime.trusted.contains(peer)
    target = resolve_target(headers.getall("Host", []), wire.raw_target)
    facts = RequestFacts(
        request_id=request_id(headers.get(REQUEST_ID_HEADER), trusted),
        method=wire.method,
        scheme=_scheme(wire, trusted),
        host=target.host,
        raw_target=wire.raw_target,
        path=target.path,
        query=target.query,
        client_ip=client_ip(peer, headers.getall("X-Forwarded-For", ()), runtime.trusted),
        peer_ip=peer,
        peer_trusted=trusted,
        started=started,
        time=time.time(),
    )
    return facts, target.problem


def _host(values: Sequence[str]) -> str | None:
    # RFC 9112 §3.2: a request with no Host, or more than one, gets a 400.
    if len(values) != 1:
        return None
    try:
        return normalize_host(values[0])
    except HostRejected:
        return None


def _scheme(wire: Wire, trusted: bool) -> str:
    ours = "https" if wire.secure else "http"
    if not trusted:
        return ours
    claimed = wire.headers.get("X-Forwarded-Proto", "").strip().lower()
    return claimed if claimed in ("http", "https") else ours
