"""In-process session store: dicts with expiry, for a single-process gateway.

Contract: the `SessionStore` contract (see `store.py`), for one event loop; not
thread-safe and not shared between worker processes (more than one worker on the
memory store is a configuration error). Sessions are kept as values, unencrypted:
the keys live in the same memory, so encrypting would protect nothing. Expired
entries go lazily (when read) and through a bounded sweep on every write, which
checks a few of the oldest entries and rotates the rest to the back, like Redis's
sampled active expiry — so memory stays bounded without a background task.
Locks are `asyncio.Lock`s per name; `ttl` is not enforced, because a holder in this
process cannot vanish without leaving its `async with`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from authgate.sessions.model import Session, Tokens
from authgate.sessions.store import (
    TOUCH_INTERVAL,
    Clock,
    IdentityChange,
    LockTimeout,
    SessionIndex,
)

_SWEEP = 8  # entries checked per write; enough to outpace the writes that add them
_V = TypeVar("_V")
Index = dict[tuple[str, str], set[str]]


def _oldest(entries: dict[str, _V]) -> list[str]:
    return list(itertools.islice(entries, _SWEEP))


def _sweep(entries: dict[str, _V], expired: Callable[[_V], bool]) -> None:
    """Drop expired entries among the oldest few; move live ones to the back."""
    for key in _oldest(entries):
        value = entries.pop(key)
        if not expired(value):
            entries[key] = value  # to the back: the next sweep samples others


async def _acquire(lock: asyncio.Lock, name: str, wait: float) -> None:
    try:
        async with asyncio.timeout(wait):
            await lock.acquire()
    except TimeoutError:
        raise LockTimeout(f"lock {name!r} still held after {wait:.1f}s") from None


class NamedLocks:
    """One `asyncio.Lock` per name, dropped when nobody holds or awaits it."""

    def __len__(self) -> int:
        return len(self._locks)

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, name: str, wait: float) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            await _acquire(lock, name, wait)
            try:
                yield
            finally:
                lock.release()
        finally:
            self._release_user(name)

    def _release_user(self, name: str) -> None:
        lock, users = self._locks[name]
        if users == 1:
            del self._locks[name]
        else:
            self._locks[name] = (lock, users - 1)


class MemorySessionStore:
    def __init__(
        self,
        *,
        idle_timeout: float,
        clock: Clock = time.time,
        touch_interval: float = TOUCH_INTERVAL,
    ) -> None:
        self._idle = idle_timeout
        self._clock = clock
        self._touch_interval = touch_interval
        self._sessions: dict[str, Session] = {}
        self._by_sid: Index = {}
        self._by_sub: Index = {}
        self._by_email: Index = {}
        self._login: dict[str, tuple[bytes, float]] = {}
        self._once: dict[str, float] = {}
        self._locks = NamedLocks()

    def __len__(self) -> int:
        """Sessions held, including ended ones not yet swept (for metrics)."""
        return len(self._sessions)

    # -- sessions -------------------------------------------------------------

    async def create(self, session: Session) -> None:
        self._sweep_sessions()
        self._insert(session)

    def _insert(self, session: Session) -> None:
        self._sessions[session.id] = session
        for index, key in self._index_keys(session):
            index.setdefault(key, set()).add(session.id)

    async def get(self, session_id: str, now: float) -> Session | None:
        session = self._sessions.get(session_id)
        if session is not None and session.expired(now, self._idle):
            self._remove(session_id)
            return None
        return session

    async def touch(self, session_id: str, now: float) -> None:
        session = await self.get(session_id, now)
        if session is not None and now - session.last_seen >= self._touch_interval:
            self._sessions[session_id] = dataclasses.replace(session, last_seen=now)

    async def replace_tokens(self, session_id: str, tokens: Tokens) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions[session_id] = dataclasses.replace(session, tokens=tokens)

    async def replace_identity(self, session: Session) -> None:
        stored = self._sessions.get(session.id)
        if stored is not None:
            self._sessions[session.id] = dataclasses.replace(
                stored,
                identity=session.identity,
                tokens=session.tokens,
                verified_at=session.verified_at,
            )

    async def delete(self, session_id: str) -> None:
        self._remove(session_id)

    async def delete_by_provider_sid(self, provider: str, sid: str) -> int:
        return self._remove_all(self._by_sid.get((provider, sid), set()))

    async def delete_by_subject(self, provider: str, subject: str) -> int:
        return self._remove_all(self._by_sub.get((provider, subject), set()))

    async def delete_by_email(self, provider: str, email: str) -> int:
        return self._remove_all(self._by_email.get((provider, email.lower()), set()))

    async def change_identities(
        self, provider: str, index: SessionIndex, value: str, change: IdentityChange
    ) -> int:
        by = {"sub": self._by_sub, "sid": self._by_sid, "email": self._by_email}[index]
        key = value.lower() if index == "email" else value
        now, changed = self._clock(), 0
        for session_id in list(by.get((provider, key), set())):
            if self._live(session_id, now):
                session = self._sessions[session_id]
                identity = change(session.identity)
                if identity is not session.identity:
                    self._remove(session_id)
                    self._insert(dataclasses.replace(session, identity=identity))
                changed += 1
        return changed

    def _index_keys(self, session: Session) -> list[tuple[Index, tuple[str, str]]]:
        provider, identity = session.identity.provider, session.identity
        keys = [(self._by_sub, (provider, identity.subject))]
        if session.provider_sid is not None:
            keys.append((self._by_sid, (provider, session.provider_sid)))
        if identity.email:
            keys.append((self._by_email, (provider, identity.email.lower())))
        return keys

    def _remove(self, session_id: str) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        for index, key in self._index_keys(session):
            members = index.get(key, set())
            members.discard(session_id)
            if not members:
                index.pop(key, None)
        return True

    def _remove_all(self, session_ids: set[str]) -> int:
        """End these sessions; count those that had not already ended by themselves."""
        now = self._clock()
        ended = 0
        for session_id in list(session_ids):
            ended += self._live(session_id, now)
            self._remove(session_id)
        return ended

    def _live(self, session_id: str, now: float) -> bool:
        session = self._sessions.get(session_id)
        return session is not None and not session.expired(now, self._idle)

    def _sweep_sessions(self) -> None:
        now = self._clock()
        for session_id in _oldest(self._sessions):
            if self._sessions[session_id].expired(now, self._idle):
                self._remove(session_id)
            else:  # to the back: the next sweep samples others
                self._sessions[session_id] = self._sessions.pop(session_id)

    # -- login state, one-time keys, locks ---------------------------------------

    async def put_login_state(self, key: str, data: bytes, ttl: float) -> None:
        now = self._clock()
        _sweep(self._login, lambda entry: entry[1] <= now)
        self._login[key] = (data, now + ttl)

    async def take_login_state(self, key: str) -> bytes | None:
        entry = self._login.pop(key, None)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    async def remember_once(self, key: str, ttl: float) -> bool:
        now = self._clock()
        _sweep(self._once, lambda until: until <= now)
        until = self._once.get(key)
        if until is not None and until > now:
            return False
        self._once[key] = now + ttl
        return True

    def lock(
        self, name: str, ttl: float, *, wait: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(name, ttl if wait is None else wait)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
