"""The session store every gateway process uses: a store, its state events, a cache.

Contract: the `SessionStore` contract (see `store.py`) — it wraps the configured
store and adds two things, nothing else:

- **Publish.** Every mutation of a session publishes on the state-event channel
  (`authgate.events`) after the store has applied it: `delete` → SESSION_ENDED,
  `replace_tokens` and `replace_identity` → SESSION_CHANGED (a refresh, a
  re-verification that changed claims), `delete_by_provider_sid` →
  SID_ENDED, `delete_by_subject` → SUBJECT_ENDED, `delete_by_email` → SUBJECT_ENDED
  for each subject that had a session of that email, `change_identities` →
  SUBJECT_CHANGED for each subject it changed — always, even when the store
  counted nothing live (another process's cache may hold what this store saw as
  already ended). A step-up login creates a new session and deletes the previous
  one, so it publishes SESSION_ENDED too. A publish that fails raises
  `StoreUnavailable` (the caller answers 503 and the user can retry; every one of
  these mutations is idempotent).
- **Cache** (optional: Redis stores, `sessions.cache`). `get` answers from the
  process's `SessionCache` only while the channel is `connected`, and only a
  session that has not ended by its stored times at `now`; otherwise it reads
  through. What it read is cached only when the channel was connected from before
  the read to after it and no invalidation came meanwhile (the cache's `version`):
  a read that raced a logout on another replica is never kept. Events from every
  process drop entries (SESSION_ENDED/CHANGED: the session; SID_ENDED,
  SUBJECT_ENDED/CHANGED: every session of that sid or subject); a lost channel
  drops everything. A Redis outage therefore fails closed exactly as without the
  cache: the subscription drops with it, so no entry is served, and the read
  through raises `StoreUnavailable`.
- **Touch.** For a cached session, `touch` slides the idle end in the cached copy
  and hands the write to a `TouchWriter` (background, bounded): at most one write
  per `touch_interval` per process, never a round trip on the request path unless
  that queue is full (then it touches inline). An uncached session is touched
  through the store as before. The cache never ends a session by its own idle
  clock: an entry that looks idle-ended here is read through (another replica may
  have touched it).

The refresh coordinator re-reads under its lock from the store itself, not from
here (`RefreshCoordinator(..., reread=...)`): a cached copy may predate a refresh
another replica just made, whose event is still on its way, and a refresh token
redeemed twice revokes the grant (RFC 9700 §4.14).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from authgate.events import EventChannel, EventKind, StateEvent
from authgate.sessions.cache import SessionCache
from authgate.sessions.keys import storage_key
from authgate.sessions.model import Session, Tokens
from authgate.identity import Identity
from authgate.sessions.store import TOUCH_INTERVAL, IdentityChange, SessionIndex, SessionStore
from authgate.sessions.touches import TouchWriter

log = logging.getLogger(__name__)
T = TypeVar("T")


class CachedSessionStore:
    def __init__(
        self,
        store: SessionStore,
        events: EventChannel,
        *,
        idle_timeout: float,
        cache: SessionCache | None = None,
        touch_interval: float = TOUCH_INTERVAL,
        touch_queue: int = 10_000,
    ) -> None:
        self.store = store  # the store itself: what reads under a lock must see
        self._events = events
        self._idle = idle_timeout
        self._interval = touch_interval
        self.cache = cache
        self._touches = TouchWriter(store.touch, limit=touch_queue)
        self._unsubscribe: list[Callable[[], None]] = []
        self._last = ("", "")  # (session id, its storage key): a request's get, then touch
        if cache is not None:
            self._unsubscribe = [events.subscribe(self._heard), events.on_lost(cache.clear)]

    # -- reads ----------------------------------------------------------------

    async def get(self, session_id: str, now: float) -> Session | None:
        cache = self.cache
        if cache is None:
            return await self.store.get(session_id, now)
        key = self._key(session_id)
        connected = self._events.connected
        if connected:
            cached = cache.get(key)
            if cached is not None and not cached.expired(now, self._idle):
                return cached
        version = cache.version
        session = await self.store.get(session_id, now)
        if session is None:
            cache.drop(key)
        elif connected and self._events.connected and cache.version == version:
            cache.put(key, session)
        return session

    def _key(self, session_id: str) -> str:
        # A SHA-256 per call is most of a cache hit's cost; get and touch ask in turn.
        if self._last[0] != session_id:
            self._last = (session_id, storage_key(session_id))
        return self._last[1]

    async def touch(self, session_id: str, now: float) -> None:
        cache = self.cache
        key = self._key(session_id) if cache is not None else ""
        cached = cache.get(key) if cache is not None else None
        if cache is None or cached is None or not self._events.connected:
            await self.store.touch(session_id, now)
            return
        if now - cached.last_seen < self._interval or cached.expired(now, self._idle):
            return  # no write due (the store's own rule), or ended: never revived
        cache.update(key, dataclasses.replace(cached, last_seen=now))
        if not self._touches.offer(session_id, now):
            await self.store.touch(session_id, now)  # the queue is full: inline

    # -- mutations: applied, then published ----------------------------------------

    async def create(self, session: Session) -> None:
        await self.store.create(session)
        # A new random id: nobody else can hold or have invalidated it yet.
        if self.cache is not None and self._events.connected:
            self.cache.put(storage_key(session.id), session)

    async def replace_tokens(self, session_id: str, tokens: Tokens) -> None:
        key = storage_key(session_id)
        await self._around(lambda c: c.drop(key), self.store.replace_tokens(session_id, tokens))
        await self._events.publish(StateEvent(EventKind.SESSION_CHANGED, session_key=key))

    async def replace_identity(self, session: Session) -> None:
        key = storage_key(session.id)
        await self._around(lambda c: c.drop(key), self.store.replace_identity(session))
        await self._events.publish(StateEvent(EventKind.SESSION_CHANGED, session_key=key))

    async def delete(self, session_id: str) -> None:
        key = storage_key(session_id)
        await self._around(lambda c: c.drop(key), self.store.delete(session_id))
        await self._events.publish(StateEvent(EventKind.SESSION_ENDED, session_key=key))

    async def delete_by_provider_sid(self, provider: str, sid: str) -> int:
        ended = await self._around(
            lambda c: c.drop_sid(provider, sid), self.store.delete_by_provider_sid(provider, sid)
        )
        await self._events.publish(StateEvent(EventKind.SID_ENDED, provider=provider, ref=sid))
        return ended

    async def delete_by_subject(self, provider: str, subject: str) -> int:
        ended = await self._around(
            lambda c: c.drop_subject(provider, subject),
            self.store.delete_by_subject(provider, subject),
        )
        event = StateEvent(EventKind.SUBJECT_ENDED, provider=provider, subject=subject)
        await self._events.publish(event)
        return ended

    async def delete_by_email(self, provider: str, email: str) -> int:
        # The cache knows sessions by sid and subject, not by email: the subjects
        # that email names are read first (a change that changes nothing writes
        # nothing), and every session of theirs is dropped and published as ended.
        subjects = await self._subjects(provider, "email", email)
        drop = self._drop_subjects(provider, subjects)
        ended = await self._around(drop, self.store.delete_by_email(provider, email))
        await self._publish_subjects(EventKind.SUBJECT_ENDED, provider, subjects)
        return ended

    async def change_identities(
        self, provider: str, index: SessionIndex, value: str, change: IdentityChange
    ) -> int:
        subjects: set[str] = set()

        def changed(identity: Identity) -> Identity:
            subjects.add(identity.subject)
            return change(identity)

        count = await self.store.change_identities(provider, index, value, changed)
        if self.cache is not None:
            self._drop_subjects(provider, subjects)(self.cache)
        await self._publish_subjects(EventKind.SUBJECT_CHANGED, provider, subjects)
        return count

    async def _subjects(self, provider: str, index: SessionIndex, value: str) -> set[str]:
        found: set[str] = set()

        def seen(identity: Identity) -> Identity:
            found.add(identity.subject)
            return identity

        await self.store.change_identities(provider, index, value, seen)
        return found

    @staticmethod
    def _drop_subjects(provider: str, subjects: set[str]) -> Callable[[SessionCache], None]:
        def drop(cache: SessionCache) -> None:
            for subject in subjects:
                cache.drop_subject(provider, subject)

        return drop

    async def _publish_subjects(self, kind: EventKind, provider: str, subjects: set[str]) -> None:
        for subject in sorted(subjects):
            await self._events.publish(StateEvent(kind, provider=provider, subject=subject))

    async def _around(self, drop: Callable[[SessionCache], None], change: Awaitable[T]) -> T:
        # Dropped before (so no read in flight keeps the old copy: the version moves)
        # and after (a read that began while the store was changing may have cached
        # the old copy just now); the event, back from the channel, drops it once more.
        cache = self.cache
        if cache is not None:
            drop(cache)
        try:
            return await change
        finally:
            if cache is not None:
                drop(cache)

    def _heard(self, event: StateEvent) -> None:
        cache = self.cache
        assert cache is not None  # subscribed only with a cache
        kind = event.kind
        if kind in (EventKind.SESSION_ENDED, EventKind.SESSION_CHANGED):
            cache.drop(event.session_key)
        elif kind is EventKind.SID_ENDED:
            cache.drop_sid(event.provider, event.ref)
        elif kind in (EventKind.SUBJECT_ENDED, EventKind.SUBJECT_CHANGED):
            cache.drop_subject(event.provider, event.subject)

    # -- the rest: the store's own ------------------------------------------------

    async def put_login_state(self, key: str, data: bytes, ttl: float) -> None:
        await self.store.put_login_state(key, data, ttl)

    async def take_login_state(self, key: str) -> bytes | None:
        return await self.store.take_login_state(key)

    async def remember_once(self, key: str, ttl: float) -> bool:
        return await self.store.remember_once(key, ttl)

    def lock(
        self, name: str, ttl: float, *, wait: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        return self.store.lock(name, ttl, wait=wait)

    async def ping(self) -> None:
        await self.store.ping()

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self.cache is not None:
            self.cache.clear()
        await self._touches.close()  # the queued touches, before the store goes
        await self.store.close()
