"""Open connections per peer address: the per-client-IP connection cap.

Contract: `PeerTable.admit(address, cap)` places a new connection and returns its
`Admission`; every connection calls `release(address, admission)` exactly once when
it closes. Per address, at most `cap` connections are ADMITTED; up to `cap` more are
REFUSED — they wait briefly for their request and answer it 503, so a client over
the cap learns why; beyond that a connection is DROPPED at once (closed unanswered,
recorded), so an address can never hold more than 2 × cap descriptors, however fast
it reconnects (the issue's 1,024-descriptor exhaustion). One table per worker
process (each has its own descriptors), so with `server.workers: N` an address may
hold N times that across the host.

The address is the socket's peer, never a forwarded header: the connection exists
before any request names a client, and a header is the client's to forge. A trusted
proxy multiplexes many clients over its connections, so the caller gives it its own,
larger cap (`server.max_connections_per_trusted_proxy`).
"""

from __future__ import annotations

import enum


class Admission(enum.Enum):
    ADMITTED = "admitted"
    REFUSED = "refused"  # answered 503 after its request head
    DROPPED = "dropped"  # closed at once


class PeerTable:
    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[Admission, dict[str, int]] = {
            Admission.ADMITTED: {},
            Admission.REFUSED: {},
        }

    def admit(self, address: str, cap: int) -> Admission:
        for admission in (Admission.ADMITTED, Admission.REFUSED):
            counts = self._counts[admission]
            count = counts.get(address, 0)
            if count < cap:
                counts[address] = count + 1
                return admission
        return Admission.DROPPED

    def release(self, address: str, admission: Admission) -> None:
        counts = self._counts.get(admission)
        if counts is None:
            return  # DROPPED was never counted
        count = counts.get(address, 0) - 1
        if count > 0:
            counts[address] = count
        else:  # the last one: the table holds only addresses with open connections
            counts.pop(address, None)

    def count(self, address: str, admission: Admission = Admission.ADMITTED) -> int:
        return self._counts.get(admission, {}).get(address, 0)
