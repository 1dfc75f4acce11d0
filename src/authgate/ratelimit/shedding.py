"""Load shedding: a cap on in-flight requests per upstream, refusing instead of queueing.

Contract: an `InflightGate` counts the requests being forwarded to one upstream.
`try_enter()` takes a place and answers True, or answers False at once when
`max_inflight` are in flight (None: no cap, but still counted); every successful
`try_enter()` is paired with one `leave()`. `hold()` does both around a block and
raises `Overloaded` when full. Nothing waits: a request over the cap is answered
503 with Retry-After by the caller (`limits.shed_retry_after`) — a queue would only
turn an overloaded upstream's slowness into timeouts for every client.

Plain counting, O(1), no lock: one event loop runs a gateway worker, and nothing
here awaits. `UpstreamGates` keeps one gate per upstream, made on first use, and
outlives config reloads (`resize` applies a new cap to the counts in progress).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Overloaded(Exception):
    """An upstream already has its maximum of requests in flight."""

    def __init__(self, max_inflight: int) -> None:
        super().__init__(f"{max_inflight} requests already in flight")
        self.max_inflight = max_inflight


def _checked_cap(max_inflight: int | None) -> int | None:
    if max_inflight is not None and max_inflight < 1:
        raise ValueError(f"max_inflight must be at least 1 or None, got {max_inflight}")
    return max_inflight


class InflightGate:
    def __init__(self, max_inflight: int | None) -> None:
        self.max_inflight = _checked_cap(max_inflight)
        self.inflight = 0
        self.shed = 0  # requests refused so far, for metrics

    def try_enter(self) -> bool:
        if self.max_inflight is not None and self.inflight >= self.max_inflight:
            self.shed += 1
            return False
        self.inflight += 1
        return True

    def leave(self) -> None:
        if self.inflight == 0:
            # A leave without its enter would open one extra place for good.
            raise RuntimeError("leave() without a matching try_enter()")
        self.inflight -= 1

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One place for the block (`with gate.hold(): await forward(...)`)."""
        if not self.try_enter():
            raise Overloaded(self.max_inflight or 0)
        try:
            yield
        finally:
            self.leave()


class UpstreamGates:
    """One `InflightGate` per upstream (e.g. its origin), all with the same cap."""

    def __init__(self, max_inflight: int | None) -> None:
        self.max_inflight = _checked_cap(max_inflight)
        self._gates: dict[str, InflightGate] = {}

    def gate(self, upstream: str) -> InflightGate:
        found = self._gates.get(upstream)
        if found is None:
            found = self._gates[upstream] = InflightGate(self.max_inflight)
        return found

    def resize(self, max_inflight: int | None) -> None:
        """A new cap for every gate; requests in flight stay counted."""
        self.max_inflight = _checked_cap(max_inflight)
        for existing in self._gates.values():
            existing.max_inflight = max_inflight

    def __iter__(self) -> Iterator[tuple[str, InflightGate]]:
        return iter(self._gates.items())
