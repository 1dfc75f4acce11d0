"""A per-process cache of sessions read from a shared store: bounded, short-lived.

Contract: entries are keyed by the store's hashed key (`keys.storage_key`, the key
the state events name), hold the `Session` as read, and live `ttl` seconds on the
monotonic clock at most; `get` answers None past that, and `put` drops the timed-out
ones (the oldest: one TTL for all). At most `size` entries: inserting one more evicts
the oldest inserted (a short TTL makes first-in-first-out as good as LRU here, without
the reordering cost on every hit). `drop`,
`drop_subject` (every cached session of a provider `sub`), `drop_sid` (of a provider
`sid`) and `clear` remove entries, and each bumps `version` — even when nothing was
cached — so a reader that took `version` before its store read and finds it changed
afterwards knows an invalidation may have raced it, and does not insert (see
`cached_store.py`). Pure: no I/O, one event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from authgate.sessions.model import Session

Index = dict[tuple[str, str], set[str]]


@dataclass(slots=True)
class _Entry:
    session: Session
    until: float


class SessionCache:
    def __init__(self, *, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._by_sub: Index = {}
        self._by_sid: Index = {}
        self.version = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Session | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry.until:
            self._remove(key)
            return None
        return entry.session

    def put(self, key: str, session: Session) -> None:
        if self._size <= 0:
            return
        self._remove(key)
        now = self._clock()
        # One TTL for all: insertion order is expiry order, so the timed-out entries
        # are the oldest — dropped here, so a quiet cache shrinks instead of holding
        # `size` dead sessions (and their tokens) until evicted.
        while self._entries:
            oldest = next(iter(self._entries))
            if len(self._entries) < self._size and self._entries[oldest].until > now:
                break
            self._remove(oldest)
        self._entries[key] = _Entry(session, now + self._ttl)
        for index, field in self._indexes(session):
            index.setdefault(field, set()).add(key)

    def update(self, key: str, session: Session) -> None:
        """Replace a cached session in place (its idle end slid here), keeping its TTL."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.session = session

    def drop(self, key: str) -> None:
        self.version += 1
        self._remove(key)

    def drop_subject(self, provider: str, subject: str) -> None:
        self._drop_listed(self._by_sub, (provider, subject))

    def drop_sid(self, provider: str, sid: str) -> None:
        self._drop_listed(self._by_sid, (provider, sid))

    def clear(self) -> None:
        self.version += 1
        self._entries.clear()
        self._by_sub.clear()
        self._by_sid.clear()

    def _drop_listed(self, index: Index, field: tuple[str, str]) -> None:
        self.version += 1
        for key in list(index.get(field, ())):
            self._remove(key)

    def _indexes(self, session: Session) -> list[tuple[Index, tuple[str, str]]]:
        provider = session.identity.provider
        listed = [(self._by_sub, (provider, session.identity.subject))]
        if session.provider_sid is not None:
            listed.append((self._by_sid, (provider, session.provider_sid)))
        return listed

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for index, field in self._indexes(entry.session):
            keys = index.get(field)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[field]
