"""The in-process history store: bounded LRU maps, for one gateway process.

Contract: the `HistoryStore` contract (see `history.py`). Each user's history is the
same field map the Redis store keeps (`history_codec`), pruned by the same rules, so
both stores answer alike. At most `max_users` users and as many failed-login keys are
kept; past that the least recently used go first, and a user untouched for `ttl` is
forgotten when next read. Never raises `StoreUnavailable`: there is no backend.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

from authgate.config.schema_adaptive import RiskHistoryConfig
from authgate.risk.history import ip_key
from authgate.risk.history_codec import (
    ACK,
    Limits,
    allowed_fields,
    encode_ack,
    failed_count,
    history_from_fields,
    prune,
    session_hash,
)
from authgate.risk.model import History, Location
from authgate.risk.signal import Signal

V = TypeVar("V")


class _Lru(Generic[V]):
    """A bounded map whose reads and writes make an entry the most recent."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def pop(self, key: str) -> None:
        self._items.pop(key, None)


class MemoryHistoryStore:
    def __init__(
        self,
        *,
        ttl: float,
        max_devices: int = 20,
        max_countries: int = 20,
        failed_login_window: float = 900.0,
        max_users: int = 100_000,
    ) -> None:
        self._limits = Limits(ttl, max_devices, max_countries)
        self._window = failed_login_window
        # user key -> (fields, last write time)
        self._users: _Lru[tuple[dict[str, str], float]] = _Lru(max_users)
        self._failures: _Lru[tuple[int, float]] = _Lru(max_users)  # key -> (count, since)

    @classmethod
    def from_config(cls, config: RiskHistoryConfig) -> MemoryHistoryStore:
        return cls(
            ttl=config.ttl,
            max_devices=config.max_devices,
            max_countries=config.max_countries,
            failed_login_window=config.failed_login_window,
            max_users=config.memory_max_users,
        )

    def _fields(self, user_key: str, now: float) -> dict[str, str] | None:
        entry = self._users.get(user_key)
        if entry is None:
            return None
        if now - entry[1] >= self._limits.ttl:  # as Redis would have expired the hash
            self._users.pop(user_key)
            return None
        return entry[0]

    async def get(
        self,
        user_key: str,
        now: float,
        *,
        session_id: str | None = None,
        client_ip: str | None = None,
    ) -> History:
        session = session_hash(session_id) if session_id else None
        fields = self._fields(user_key, now) or {}
        history = history_from_fields(fields, now, self._limits.ttl, session)
        failures = await self.failed_logins(user_key, now)
        if client_ip is not None:
            failures = max(failures, await self.failed_logins(ip_key(client_ip), now))
        return dataclasses.replace(history, failed_logins=failures)

    async def record_allowed(
        self, user_key: str, location: Location | None, device_id: str | None, now: float
    ) -> None:
        self._write(user_key, allowed_fields(location, device_id, now), now)

    async def acknowledge(
        self, user_key: str, session_id: str, signals: Iterable[Signal], now: float, until: float
    ) -> None:
        key = ACK + session_hash(session_id)
        self._write(user_key, {key: encode_ack(signals, until)}, now)

    def _write(self, user_key: str, changes: dict[str, str], now: float) -> None:
        fields = self._fields(user_key, now) or {}
        fields.update(changes)
        prune(fields, now, self._limits)
        self._users.put(user_key, (fields, now))

    async def record_failed_login(self, key: str, now: float) -> int:
        count = await self.failed_logins(key, now)
        entry = self._failures.get(key)
        since = entry[1] if count and entry is not None else now
        self._failures.put(key, (count + 1, since))
        return count + 1

    async def failed_logins(self, key: str, now: float) -> int:
        entry = self._failures.get(key)
        if entry is None:
            return 0
        return failed_count(entry[0], entry[1], now, self._window)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
