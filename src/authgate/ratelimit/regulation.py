"""Login-abuse regulation: ban a client after repeated failures, as Authelia does.

Contract (every implementation, checked by one shared suite in `tests/ratelimit/`):

- `record_failure(kind, value)` notes one failure (a bad callback, a failed token
  exchange, a bad bearer token) of the client `value` of `kind` (`ip`, `sub`, ...).
  When this makes `max_failures` failures within `find_time` — the oldest of the
  last `max_failures` less than `find_time` ago — the client is banned for
  `ban_time`, its failure count starts again from zero, and the call answers True
  (the caller logs the ban and counts it in metrics). Failures while banned are
  not counted and do not extend the ban, so a ban ends when announced — even
  when an attacker shares a victim's NAT address and keeps failing.
- `is_banned(kind, value)` answers the seconds of ban left, or None.
- For kind `ip`, an IPv6 address stands for its /64 (`keys.ip_part`): a ban a host
  could shed by changing address within its own /64 would stop nobody.
- Values are stored as `keys.safe_part` makes them: hashed when long or unusual.
- A store that cannot be reached raises `LimiterUnavailable`.

`MemoryRegulator` serves one process; `redis_regulation.RedisRegulator` every replica.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Protocol

from authgate.config.schema_limits import RegulationConfig
from authgate.ratelimit.keys import ip_part, safe_part
from authgate.ratelimit.limiter import MAX_KEYS, Clock

_SWEEP = 2


class Regulator(Protocol):
    async def record_failure(self, kind: str, value: str) -> bool: ...

    async def is_banned(self, kind: str, value: str) -> float | None: ...

    async def close(self) -> None: ...


def regulated_key(kind: str, value: str) -> str:
    """`<kind>:<value>` with the value made short and safe (IPv6 as its /64)."""
    return f"{kind}:{ip_part(value) if kind == 'ip' else safe_part(value)}"


@dataclass
class _Record:
    failures: deque[float]  # the last max_failures failure times, oldest first
    banned_until: float = float("-inf")

    def idle(self, now: float, find_time: float) -> bool:
        """Nothing left to remember: no ban, no failure within find_time."""
        recent = bool(self.failures) and now - self.failures[-1] < find_time
        return self.banned_until <= now and not recent


@dataclass
class MemoryRegulator:
    """Failure times and ban ends per client, bounded like `MemoryRateLimiter`."""

    config: RegulationConfig
    clock: Clock = time.monotonic
    max_keys: int = MAX_KEYS
    _records: OrderedDict[str, _Record] = field(default_factory=OrderedDict, init=False)

    def __len__(self) -> int:
        return len(self._records)

    async def record_failure(self, kind: str, value: str) -> bool:
        now, key = self.clock(), regulated_key(kind, value)
        record = self._records.pop(key, None) or _Record(deque(maxlen=self.config.max_failures))
        self._records[key] = record  # to the back: the most recently used
        banned = self._count(record, now)
        self._sweep(now)
        return banned

    def _count(self, record: _Record, now: float) -> bool:
        if record.banned_until > now:
            return False
        record.failures.append(now)
        full = len(record.failures) == self.config.max_failures
        if full and now - record.failures[0] < self.config.find_time:
            record.failures.clear()
            record.banned_until = now + self.config.ban_time
            return True
        return False

    async def is_banned(self, kind: str, value: str) -> float | None:
        now = self.clock()
        record = self._records.get(regulated_key(kind, value))
        if record is None or record.banned_until <= now:
            return None
        return record.banned_until - now

    def _sweep(self, now: float) -> None:
        """Drop idle records among the oldest few; rotate the others to the back."""
        records = self._records
        for _ in range(min(_SWEEP, len(records))):
            key, record = records.popitem(last=False)
            if not record.idle(now, self.config.find_time):
                records[key] = record
        # Over the cap, the oldest records go even if live: memory stays flat under
        # a flood of distinct clients, at the price of forgetting the quietest ones.
        while len(records) > self.max_keys:
            records.popitem(last=False)

    async def close(self) -> None:
        self._records.clear()
