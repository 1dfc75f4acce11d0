"""Request facts: what is known about a request before anything is decided.

Contract: `RequestFacts` is a frozen value built once per request by the server layer
(the only place that reads aiohttp objects); everything after it — route lookup,
decision, record — reads facts, never the raw request. Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestFacts:
    request_id: str
    method: str
    scheme: str  # what the client used: ours, or X-Forwarded-Proto from a trusted proxy
    host: str  # normalized host ("" when missing or invalid)
    raw_target: str  # the request target exactly as received
    path: str  # normalized path ("" when it was refused)
    query: str  # raw query without "?"
    client_ip: str
    peer_ip: str
    peer_trusted: bool
    started: float  # monotonic clock at arrival
    time: float  # wall clock at arrival
