"""The rate limiter interface, and its in-process implementation.

Contract (every implementation, checked by one shared suite in `tests/ratelimit/`):

- `check(key, limit, cost=1)` applies `gcra.gcra_check` to the key's stored TAT at
  the limiter's clock, stores the new TAT, and answers the `GcraResult`. For one
  key, checks are atomic: two concurrent checks never both take the last cell.
- A key whose TAT has passed is as good as new (a full burst again) and may be
  forgotten: nothing is kept for it longer than `burst / rate` seconds after its
  last check, give or take the memory limiter's next sweep.
- Keys are opaque strings (see `keys.limit_key`); a limiter never parses them.
- A store that cannot be reached raises `LimiterUnavailable` — no backend exception
  leaves a limiter — and the same limiter works again once the store is back.
- `close()` releases what the limiter owns; it is called once, at shutdown.

`MemoryRateLimiter` serves one process (one event loop, not thread-safe): with
several workers or replicas each would count alone, so limits would multiply; use
`redis_limiter.RedisRateLimiter` there.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from authgate.ratelimit.gcra import GcraResult, Limit, gcra_check

Clock = Callable[[], float]

MAX_KEYS = 100_000  # about 20 MB of buckets; see MemoryRateLimiter
_SWEEP = 2  # entries sampled per new entry: more than the one it adds


class LimiterUnavailable(Exception):
    """The limiter's store cannot be reached or refused the command."""


class RateLimiter(Protocol):
    async def check(self, key: str, limit: Limit, cost: int = 1) -> GcraResult: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """TATs in an ordered dict, bounded, swept as it goes.

    Every check moves its key to the back; a check that adds a key also samples
    the two entries at the front: expired ones are dropped, live ones rotate to the
    back (O(1), no background task — like Redis's sampled active expiry). As each
    new entry samples two, expired entries cannot pile up, and checks of keys
    already known (the hot path) pay nothing for it. A flood of
    distinct keys (e.g. random header values) beyond `max_keys` evicts buckets from
    the front even if live — which can only make the limiter more lenient for
    those keys, never stricter — and keeps a worker's memory flat under attack.
    """

    def __init__(self, *, clock: Clock = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        # OrderedDict, not dict: popping a plain dict's front leaves holes that
        # iteration must skip, which would make the sweep quadratic.
        self._tats: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tats)

    async def check(self, key: str, limit: Limit, cost: int = 1) -> GcraResult:
        now, tats = self._clock(), self._tats
        stored = tats.get(key)
        result = gcra_check(stored, now, limit, cost)
        tats[key] = result.new_tat
        if stored is None:
            self._sweep(now)  # only a new entry needs room made for it
        else:
            tats.move_to_end(key)
        return result

    def _sweep(self, now: float) -> None:
        """Drop expired entries among the oldest few; rotate live ones to the back."""
        tats = self._tats
        for _ in range(min(_SWEEP, len(tats))):
            key, tat = tats.popitem(last=False)
            if tat > now:
                tats[key] = tat  # live: to the back, so the next sweeps sample others
        while len(tats) > self._max_keys:
            tats.popitem(last=False)

    async def close(self) -> None:
        self._tats.clear()
