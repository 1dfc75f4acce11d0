"""Login-abuse bans read from a per-process cache that the state-event channel keeps
true: a bearer request or a login checks its ban without a Redis round trip.

Contract: the `Regulator` contract (see `regulation.py`) — it wraps the Redis
regulator and adds a cache of answers to `is_banned`, keyed by `regulated_key`:

- "not banned" is kept for `ttl` seconds (monotonic) at most; "banned until T" is
  kept until T (a ban only ends by time: nothing lifts it early). At most `size`
  entries, the oldest inserted evicted first.
- `record_failure` that starts a ban drops the local entry and publishes
  BANS_CHANGED (`ref` = the regulated key) on the channel; every process drops its
  entry for that key on it, so a ban made on one replica is enforced on every other
  within milliseconds. A publish that fails is logged: the other processes then learn
  of the ban when their entry's `ttl` runs out.
- Like the session cache: answers come from the cache only while the channel is
  `connected`; an answer read through is kept only when the channel was connected
  from before the read to after it and no event or loss came in between (`version`);
  a lost channel drops everything. A store that cannot be reached still raises
  `LimiterUnavailable` on the read through, as without the cache (the callers let
  the login through: `server/abuse.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from authgate.events import EventChannel, EventKind, StateEvent
from authgate.ratelimit.limiter import Clock
from authgate.ratelimit.regulation import Regulator, regulated_key
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)

NOT_BANNED_TTL = 5.0
SIZE = 10_000
_NOT_BANNED = -1.0  # the entry of a key found not banned


class CachedRegulator:
    def __init__(
        self,
        regulator: Regulator,
        events: EventChannel,
        *,
        clock: Clock = time.time,
        ttl: float = NOT_BANNED_TTL,
        size: int = SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.regulator = regulator
        self._events = events
        self._clock = clock
        self._ttl = ttl
        self._size = size
        self._monotonic = monotonic
        # key -> (ban end in `clock` time, or _NOT_BANNED; kept until, monotonic)
        self._entries: dict[str, tuple[float, float]] = {}
        self._version = 0
        self._unsubscribe = [events.subscribe(self._heard), events.on_lost(self._clear)]

    def __len__(self) -> int:
        return len(self._entries)

    async def is_banned(self, kind: str, value: str) -> float | None:
        key = regulated_key(kind, value)
        connected = self._events.connected
        if connected:
            cached = self._cached(key)
            if cached is not None:
                return cached or None  # 0.0: not banned
        version = self._version
        left = await self.regulator.is_banned(kind, value)
        if connected and self._events.connected and self._version == version:
            self._keep(key, left)
        return left

    async def record_failure(self, kind: str, value: str) -> bool:
        banned = await self.regulator.record_failure(kind, value)
        if banned:
            key = regulated_key(kind, value)
            self._drop(key)
            try:
                await self._events.publish(StateEvent(EventKind.BANS_CHANGED, ref=key))
            except StoreUnavailable as error:
                log.warning("a new ban not announced to the other processes: %s", error)
        return banned

    def _cached(self, key: str) -> float | None:
        """Seconds of ban left (0.0 for not banned), or None when not known here."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        ends, until = entry
        if ends == _NOT_BANNED:
            if self._monotonic() < until:
                return 0.0
        elif (left := ends - self._clock()) > 0:
            return left
        del self._entries[key]
        return None

    def _keep(self, key: str, left: float | None) -> None:
        if self._size <= 0:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        ends = _NOT_BANNED if left is None else self._clock() + left
        self._entries[key] = (ends, self._monotonic() + self._ttl)

    def _drop(self, key: str) -> None:
        self._version += 1
        self._entries.pop(key, None)

    def _clear(self) -> None:
        self._version += 1
        self._entries.clear()

    def _heard(self, event: StateEvent) -> None:
        if event.kind is EventKind.BANS_CHANGED:
            self._drop(event.ref)

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._clear()
        await self.regulator.close()
