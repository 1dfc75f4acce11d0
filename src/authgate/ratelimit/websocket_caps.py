"""Caps on concurrent WebSockets: per route, per user and per client IP.

Contract: `WebSocketCaps.hold(claims)` takes one place under every claim — a
(`Cap`, key, limit) triple — for the duration of the block, or takes none and raises
`CapReached` naming the first claim already at its limit (a limit of None counts
without capping). Places are given back when the block ends, however it ends.
Counting starts before the upstream handshake, so handshakes racing each other
cannot overshoot a cap. `claims_for(...)` builds the claims of one upgrade.

Why: a WebSocket holds a socket on both sides for hours. Without a cap one user (or
one address: a script, a botnet node) can hold every file descriptor of the gateway
and a route's every upstream connection (CWE-400, CWE-770).

Plain counting, O(1) per claim, no lock: one event loop runs a gateway worker and
nothing here awaits; the caps hold per worker process. The counts live on the app,
so they outlive config reloads; the limits come from the config of each upgrade.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from authgate.ratelimit.keys import ip_part


class Cap(enum.StrEnum):
    ROUTE = "route"
    USER = "user"
    CLIENT_IP = "client_ip"


class Claim(NamedTuple):
    cap: Cap
    key: str
    limit: int | None  # None: counted, never refused


class CapReached(Exception):
    def __init__(self, claim: Claim) -> None:
        super().__init__(f"{claim.cap} {claim.key!r} already has {claim.limit} WebSockets open")
        self.claim = claim


def claims_for(
    route_id: str,
    route_limit: int | None,
    user: str | None,
    user_limit: int | None,
    client_ip: str,
    ip_limit: int | None,
) -> tuple[Claim, ...]:
    """The claims of one upgrade: its route, its user (when signed in), its address."""
    claims = [Claim(Cap.ROUTE, route_id, route_limit)]
    if user is not None:
        claims.append(Claim(Cap.USER, user, user_limit))
    # IPv6 by its /64: one subscriber's block, rotated through at will (RFC 8981).
    claims.append(Claim(Cap.CLIENT_IP, ip_part(client_ip), ip_limit))
    return tuple(claims)


class WebSocketCaps:
    def __init__(self) -> None:
        self._open: Counter[tuple[Cap, str]] = Counter()

    def count(self, cap: Cap, key: str) -> int:
        return self._open[(cap, key)]

    @contextmanager
    def hold(self, claims: Sequence[Claim]) -> Iterator[None]:
        for claim in claims:
            if claim.limit is not None and self._open[(claim.cap, claim.key)] >= claim.limit:
                raise CapReached(claim)
        for claim in claims:
            self._open[(claim.cap, claim.key)] += 1
        try:
            yield
        finally:
            for claim in claims:
                self._open[(claim.cap, claim.key)] -= 1
                if not self._open[(claim.cap, claim.key)]:
                    del self._open[(claim.cap, claim.key)]  # no key kept for the idle
