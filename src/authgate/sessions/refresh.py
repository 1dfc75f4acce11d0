"""Single-flight refresh of a session, in one process and across replicas.

Contract: `ensure_verified(session, renew, now, reverify_every=...)` returns the
session unchanged unless it is due: its access token ends within `refresh_before`
(and there is a refresh token), or it was last verified (`Session.verified_at`) more
than `reverify_every` seconds ago (docs/continuous.md). A due session gets exactly one
`renew(session)` call, however many requests ask at once:

- in this process, concurrent callers share one flight (one task per session id);
  the flight is shielded, so a caller that goes away does not cancel the refresh the
  others are waiting for — nor lose a rotated refresh token half-way;
- across processes, the flight holds the store lock `refresh:<storage key>` and
  re-reads the session under it — from `reread`, the store itself when `store` is a
  cache in front of it — and if another replica refreshed meanwhile, its result
  is used. With refresh-token rotation a token redeemed twice is treated as stolen
  and the whole grant is revoked, logging the user out (RFC 9700 §4.14, refresh
  token protection), so two replicas must never both redeem it.

What `renew` answers is stored with `store.replace_identity` (identity, tokens and
`verified_at` together), the store mutation the event channel announces to the other
replicas (SESSION_CHANGED). `ensure_fresh(session, refresh, now)` is the tokens-only
form: `refresh(tokens)` answers new tokens, the identity is kept.

It answers the updated session, or None when the session ended meanwhile (logout on
another request). An exception from `renew` reaches every waiting caller; the caller
decides (typically: end the session). `LockTimeout` and `StoreUnavailable` from the
store propagate as well.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from authgate.continuous.interval import reverify_due
from authgate.sessions.keys import storage_key
from authgate.sessions.model import Session, Tokens
from authgate.sessions.store import SessionStore

Refresh = Callable[[Tokens], Awaitable[Tokens]]
Renew = Callable[[Session], Awaitable[Session]]
Now = Callable[[], float]


class RefreshCoordinator:
    def __init__(
        self,
        store: SessionStore,
        refresh_before: float,
        *,
        lock_ttl: float = 30.0,
        reread: SessionStore | None = None,
    ) -> None:
        self._store = store
        self._reread = reread or store
        self._refresh_before = refresh_before
        # Longer than a token request may take (the IdP client's timeout is 15 s).
        self._lock_ttl = lock_ttl
        self._flights: dict[str, asyncio.Task[Session | None]] = {}

    def due(self, tokens: Tokens, now: float) -> bool:
        """True when these tokens need a refresh and can have one."""
        return tokens.refresh_token is not None and tokens.access_expires_within(
            now, self._refresh_before
        )

    def due_at(self, session: Session, reverify_every: float | None) -> float | None:
        """When `session` became (or becomes) due, None if never: the start of an
        outage's grace (`providers[].outage_grace`)."""
        moments = []
        tokens = session.tokens
        if tokens.refresh_token is not None and tokens.access_expires_at is not None:
            moments.append(tokens.access_expires_at - self._refresh_before)
        if reverify_every is not None:
            moments.append(session.verified_at + reverify_every)
        return min(moments) if moments else None

    def _due_session(self, session: Session, now: float, reverify_every: float | None) -> bool:
        return self.due(session.tokens, now) or reverify_due(
            session.verified_at, reverify_every, now
        )

    async def ensure_fresh(self, session: Session, refresh: Refresh, now: Now) -> Session | None:
        async def renew(current: Session) -> Session:
            return dataclasses.replace(current, tokens=await refresh(current.tokens))

        return await self.ensure_verified(session, renew, now)

    async def ensure_verified(
        self, session: Session, renew: Renew, now: Now, *, reverify_every: float | None = None
    ) -> Session | None:
        if not self._due_session(session, now(), reverify_every):
            return session
        flight = self._flights.get(session.id)
        if flight is None:
            flight = asyncio.create_task(self._fly(session, renew, now, reverify_every))
            self._flights[session.id] = flight
            flight.add_done_callback(lambda done: self._landed(session.id, done))
        return await asyncio.shield(flight)

    def _landed(self, session_id: str, flight: asyncio.Task[Session | None]) -> None:
        self._flights.pop(session_id, None)
        if not flight.cancelled():
            flight.exception()  # retrieved here too: all its callers may have gone

    async def _fly(
        self, session: Session, renew: Renew, now: Now, reverify_every: float | None
    ) -> Session | None:
        # A read before the lock: when another replica has refreshed already, the
        # common case under load, this flight ends without a lock round trip.
        current = await self._store.get(session.id, now())
        if current is None or not self._due_session(current, now(), reverify_every):
            return current
        async with self._store.lock("refresh:" + storage_key(session.id), self._lock_ttl):
            # Re-read under the lock: the holder before us may have refreshed. From
            # `reread` (the store behind a cache): a cached copy may predate it.
            current = await self._reread.get(session.id, now())
            if current is None or not self._due_session(current, now(), reverify_every):
                return current
            renewed = await renew(current)
            await self._store.replace_identity(renewed)
        return renewed
