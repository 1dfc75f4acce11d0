"""A connection that outlives its request follows the session it was decided on.

Contract: `following(connections, exchange, route_id, cut)` registers the exchange's
connection with the process's `continuous.connections.SessionConnections` for the
`with` block (nothing for a request without a session). When the registry closes it,
the exchange's decision becomes the one the registry gives — the request's one
record then says why it was closed — and `cut(decision)` ends the connection the way
its front end can: a WebSocket close 1008, a stream's connection aborted. A
re-evaluation that left it open adds its reason to the decision (`groups-changed`),
once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager

from authgate.continuous.connections import Follower, SessionConnections
from authgate.decision import Decision, Reason
from authgate.server.exchange import Exchange


def following(
    connections: SessionConnections,
    exchange: Exchange,
    route_id: str,
    cut: Callable[[Decision], None],
) -> AbstractContextManager[Follower | None]:
    def close(decision: Decision) -> None:
        exchange.decision = decision
        cut(decision)

    def note(reason: Reason) -> None:
        decision = exchange.decision
        if reason not in decision.reasons:
            exchange.decision = dataclasses.replace(decision, reasons=(*decision.reasons, reason))

    return connections.follow(
        exchange.session, exchange.facts, exchange.adaptive.context, route_id, close, note
    )


def cut_stream(exchange: Exchange, abort: Callable[[], None]) -> Callable[[Decision], None]:
    """The `cut` of a streamed answer: the record's status is the decision's (the
    client got a cut connection, not an answer), then `abort()`."""

    def cut(decision: Decision) -> None:
        exchange.status = decision.status
        abort()

    return cut
