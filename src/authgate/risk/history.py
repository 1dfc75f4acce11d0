"""The history store: what the risk engine remembers per user, in memory or in Redis.

Contract (every implementation; one shared suite in `tests/risk/`):
- `get(user_key, now, *, session_id=None, client_ip=None)` answers `History`: the last
  location, the devices and countries seen within `ttl` (`risk_history.ttl`), the
  failed logins in the current window — the larger of the user's and the client
  IP's count —, when an allowed request was last recorded, and the signals
  acknowledged for `session_id`. An unknown user is `NO_HISTORY`-like (all empty).
- `record_allowed(user_key, location, device_id, now)` — call it only for requests the
  gateway allowed, so a refused attacker never becomes "known": it sets the last
  location and marks the device and the location's country as seen at `now`.
  Devices and countries over `max_devices` / `max_countries` drop the least recently
  seen. Writing on every request is not needed: `worth_recording` says when it adds
  something (a new device, country or place, or `interval` since the last write).
- `record_failed_login(key, now)` counts a failure for `user_key(...)` or `ip_key(...)`
  and answers the count in the window (`failed_login_window`, a fixed window from
  the first failure); `failed_logins(key, now)` reads it.
- `acknowledge(user_key, session_id, signals, now, until)` — after a successful
  step-up: those signals no longer count for that session until `until` (the
  session's end). A later acknowledgement for the same session replaces it; each
  user keeps the 16 latest-ending ones. History-based signals clear for every session by themselves once
  the next allowed request is recorded (the device, country and place become known);
  environment signals (anonymous network, reputation, hours, failed logins) would
  otherwise ask again on every request, so the acknowledgement is per session.
- Backend failures raise `authgate.sessions.store.StoreUnavailable`.
Keys are opaque strings; the stores hash them (no e-mail or subject in key names).
Pure module (the Protocol and helpers); the stores are `history_memory` and
`history_redis`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from authgate.config.schema_adaptive import RiskHistoryConfig
from authgate.config.schema_auth import StoreConfig
from authgate.risk.model import History, Location
from authgate.risk.signal import Signal

RECORD_INTERVAL = 300.0


def user_key(provider: str, subject: str) -> str:
    """The history key of a user: provider ids hold no `:`, so keys cannot collide."""
    return f"u:{provider}:{subject}"


def ip_key(ip: str) -> str:
    """The failed-login key of a client IP."""
    return f"ip:{ip}"


def worth_recording(
    history: History,
    location: Location | None,
    device_id: str | None,
    now: float,
    *,
    interval: float = RECORD_INTERVAL,
) -> bool:
    """Whether `record_allowed` would add anything `history` lacks.

    Unchanged facts are rewritten at most once per `interval`, which keeps last-seen
    times (and the TTL) fresh without a store write per request.
    """
    if history.recorded_at is None or now - history.recorded_at >= interval:
        return True
    if device_id is not None and device_id not in history.devices:
        return True
    if location is None:
        return False
    if location.country is not None and location.country not in history.countries:
        return True
    last = history.last_location
    return last is None or (last.country, last.coordinates) != (
        location.country,
        location.coordinates,
    )


class HistoryStore(Protocol):
    async def get(
        self,
        user_key: str,
        now: float,
        *,
        session_id: str | None = None,
        client_ip: str | None = None,
    ) -> History: ...

    async def record_allowed(
        self, user_key: str, location: Location | None, device_id: str | None, now: float
    ) -> None: ...

    async def record_failed_login(self, key: str, now: float) -> int: ...

    async def failed_logins(self, key: str, now: float) -> int: ...

    async def acknowledge(
        self, user_key: str, session_id: str, signals: Iterable[Signal], now: float, until: float
    ) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def build_history_store(store: StoreConfig, config: RiskHistoryConfig) -> HistoryStore:
    """The history store on the configured backend. It connects lazily: no I/O here."""
    if store.backend == "memory":
        from authgate.risk.history_memory import MemoryHistoryStore

        return MemoryHistoryStore.from_config(config)
    # Imported here so a memory-only gateway never loads the Redis client.
    from authgate.risk.history_redis import RedisHistoryStore
    from authgate.sessions.redis_client import redis_client

    # store.url, store.cluster or store.sentinel: the same client the sessions use.
    return RedisHistoryStore.from_client(redis_client(store), config, prefix=store.key_prefix)
