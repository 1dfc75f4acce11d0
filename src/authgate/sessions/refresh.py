"""Single-flight refresh of a session's access token, in one process and across replicas.

Contract: `ensure_fresh(session, refresh, now)` returns the session unchanged when its
access token does not end within `refresh_before` (or its end is unknown, or there is
no refresh token). Otherwise it makes sure exactly one `refresh(tokens)` call happens
for that session, however many requests ask at once:

- in this process, concurrent callers share one flight (one task per session id);
  the flight is shielded, so a caller that goes away does not cancel the refresh the
  others are waiting for — nor lose a rotated refresh token half-way;
- across processes, the flight holds the store lock `refresh:<storage key>` and
  re-reads the session under it: if another replica refreshed meanwhile, its tokens
  are used. With refresh-token rotation a token redeemed twice is treated as stolen
  and the whole grant is revoked, logging the user out (RFC 9700 §4.14, refresh
  token protection), so two replicas must never both redeem it.

It answers the updated session, or None when the session ended meanwhile (logout on
another request). An exception from `refresh` reaches every waiting caller; the
caller decides (typically: end the session). `LockTimeout` and `StoreUnavailable`
from the store propagate as well.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from authgate.sessions.keys import storage_key
from authgate.sessions.model import Session, Tokens
from authgate.sessions.store import SessionStore

Refresh = Callable[[Tokens], Awaitable[Tokens]]
Now = Callable[[], float]


class RefreshCoordinator:
    def __init__(
        self, store: SessionStore, refresh_before: float, *, lock_ttl: float = 30.0
    ) -> None:
        self._store = store
        self._refresh_before = refresh_before
        # Longer than a token request may take (the IdP client's timeout is 15 s).
        self._lock_ttl = lock_ttl
        self._flights: dict[str, asyncio.Task[Session | None]] = {}

    def due(self, tokens: Tokens, now: float) -> bool:
        """True when these tokens need a refresh and can have one."""
        return tokens.refresh_token is not None and tokens.access_expires_within(
            now, self._refresh_before
        )

    async def ensure_fresh(self, session: Session, refresh: Refresh, now: Now) -> Session | None:
        if not self.due(session.tokens, now()):
            return session
        flight = self._flights.get(session.id)
        if flight is None:
            flight = asyncio.create_task(self._fly(session, refresh, now))
            self._flights[session.id] = flight
            flight.add_done_callback(lambda done: self._landed(session.id, done))
        return await asyncio.shield(flight)

    def _landed(self, session_id: str, flight: asyncio.Task[Session | None]) -> None:
        self._flights.pop(session_id, None)
        if not flight.cancelled():
            flight.exception()  # retrieved here too: all its callers may have gone

    async def _fly(self, session: Session, refresh: Refresh, now: Now) -> Session | None:
        # A read before the lock: when another replica has refreshed already, the
        # common case under load, this flight ends without a lock round trip.
        current = await self._store.get(session.id, now())
        if current is None or not self.due(current.tokens, now()):
            return current
        async with self._store.lock("refresh:" + storage_key(session.id), self._lock_ttl):
            # Re-read under the lock: the holder before us may have refreshed.
            current = await self._store.get(session.id, now())
            if current is None or not self.due(current.tokens, now()):
                return current
            tokens = await refresh(current.tokens)
            await self._store.replace_tokens(session.id, tokens)
        return dataclasses.replace(current, tokens=tokens)
