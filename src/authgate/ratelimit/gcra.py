"""GCRA — the generic cell rate algorithm — as pure arithmetic on one stored time.

Contract: `gcra_check(tat, now, limit, cost)` decides one request from the key's
stored *theoretical arrival time* (TAT, None for a key never seen or forgotten) and
answers a `GcraResult`; the caller stores `new_tat` (and may forget it once `now`
passes it: a TAT in the past means the same as none). No I/O, no clock: every
implementation (memory, Redis Lua) applies exactly this function, so they agree.

The formulation (ATM Forum TM 4.0, as in redis-cell and throttled):

    T    = 1 / rate                 emission interval: one request earns back in T
    tau  = T * (burst - 1)          tolerance: how far ahead of schedule a key may be
    tat' = max(tat, now) + T*cost
    allowed  iff  now >= tat' - (tau + T)      i.e. tat' - now <= burst * T

so `burst` requests pass at once on a fresh key, then one per T; in any window of
length W at most `burst + rate*W` requests pass (the property test checks this).
A denied request leaves the TAT as it was: refusals cost the client nothing.

Times are float seconds. A request up to `EPSILON` (1 µs) early counts as on time,
so float rounding at wall-clock magnitudes (~1.8e9 s, an ulp of ~0.24 µs) can never
deny a request that arrives exactly on schedule; 1 µs is far below any clock
agreement between replicas, so it admits nothing a client could exploit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Limit:
    """`rate_per_second` sustained, `burst` requests at once (burst >= 1)."""

    rate_per_second: float
    burst: int
    # Derived once here, not per check: a check runs on every request.
    emission_interval: float = field(init=False, repr=False, compare=False)
    window: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.rate_per_second > 0 and math.isfinite(self.rate_per_second)):
            raise ValueError(f"rate must be a positive number, got {self.rate_per_second!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst!r}")
        interval = 1.0 / self.rate_per_second
        # T: the time one request takes to earn back; tau + T = burst * T: the
        # furthest a stored TAT ever lies after `now`.
        object.__setattr__(self, "emission_interval", interval)
        object.__setattr__(self, "window", interval * self.burst)

    @property
    def tolerance(self) -> float:
        """tau = T * (burst - 1): how far ahead of its schedule a key may run."""
        return self.emission_interval * (self.burst - 1)


class GcraResult(NamedTuple):
    """One decision. Times are seconds from `now`; `new_tat` is absolute.

    A NamedTuple rather than a frozen dataclass: one is built per limit per request,
    and a tuple is built several times faster.
    """

    allowed: bool
    new_tat: float  # what the store keeps (unchanged from `tat` when denied)
    remaining: int  # requests that would pass right after this one, at this instant
    retry_after: float  # 0 when allowed; else the wait until this request would pass
    reset_after: float  # until the key is back to a full burst (its TAT has passed)


def gcra_check(tat: float | None, now: float, limit: Limit, cost: int = 1) -> GcraResult:
    """Decide a request of `cost` cells against the stored `tat` (None: fresh key)."""
    if cost != 1:
        check_cost(cost, limit)
    interval = limit.emission_interval
    base = now if tat is None or tat < now else tat
    new_tat = base + interval * cost
    # How far `now` lies past the earliest moment this request may pass.
    slack = now - (new_tat - limit.window)
    if slack < -EPSILON:
        return GcraResult(False, base, 0, -slack, base - now)
    remaining = min(limit.burst - cost, math.floor((slack + EPSILON) / interval))
    return GcraResult(True, new_tat, max(0, remaining), 0.0, new_tat - now)


def check_cost(cost: int, limit: Limit) -> None:
    """Refuse a cost outside 0..burst (0 reads the state without spending)."""
    # A cost above the burst could never pass: that is a caller's mistake, and
    # answering "retry after forever" would only hide it. A negative cost would
    # refund cells.
    if cost < 0 or cost > limit.burst:
        raise ValueError(f"cost must be within 0..burst ({limit.burst}), got {cost}")
