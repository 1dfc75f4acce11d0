"""The per-process view of who holds which grant: what the request path reads.

Contract: `ActiveGrants.held(identity, route_id, names, now)` answers the entitlements
among `names` that the identity holds on `route_id` at `now` (route scope and expiry
applied: `Grant.holds`), each with its grant id — or None when the store could not be
read (the criterion then fails closed). It is called only for routes whose policy
names an entitlement, so every other request pays nothing.

Per subject, the open grants read from the store are kept while the cache is
`trusted()`: the memory store (one process: every change passes through this
process's `invalidate`) or a connected event channel (`authgate.access.events`:
GRANT_CHANGED from any replica invalidates the subject, a lost channel drops
everything, and nothing is cached until it is back). So a revocation takes effect on
every replica as fast as the channel delivers, and an expiry needs no message at all:
the cached grant carries its end and `holds` checks it against `now`. An entry is
also dropped after `max_age` seconds whatever happens (a backstop, not the
mechanism), and at most `size` subjects are kept (least recently used out first).

A read that raced an invalidation is not kept: `invalidate` and `drop_all` bump a
counter, and a read only fills the cache if the counter did not move while it waited
(else a revocation published during the read could be overwritten by the stale
answer).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from authgate.access.model import Grant
from authgate.access.store import GrantStore
from authgate.identity import Identity
from authgate.sessions.store import StoreUnavailable

MAX_AGE = 60.0
SIZE = 10_000

Holder = tuple[str, str]


class ActiveGrants:
    def __init__(
        self,
        store: GrantStore,
        *,
        trusted: Callable[[], bool],
        max_age: float = MAX_AGE,
        size: int = SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._trusted = trusted
        self._max_age = max_age
        self._size = size
        self._monotonic = monotonic
        self._entries: OrderedDict[Holder, tuple[float, tuple[Grant, ...]]] = OrderedDict()
        self._changes = 0
        self._unwire: Callable[[], None] | None = None

    def wired(self, unwire: Callable[[], None] | None) -> ActiveGrants:
        """Remember how to unhook this cache from its channel (`close`)."""
        self._unwire = unwire
        return self

    def close(self) -> None:
        """Stop listening (a replaced generation's cache, once its requests are done)."""
        unwire, self._unwire = self._unwire, None
        if unwire is not None:
            unwire()
        self.drop_all()

    async def held(
        self, identity: Identity, route_id: str, names: frozenset[str], now: float
    ) -> Mapping[str, str] | None:
        grants = await self._grants((identity.provider, identity.subject))
        if grants is None:
            return None
        return {
            g.entitlement: g.id for g in grants if g.entitlement in names and g.holds(g.entitlement, route_id, now)
        }

    async def _grants(self, holder: Holder) -> tuple[Grant, ...] | None:
        trusted = self._trusted()
        if trusted:
            entry = self._entries.get(holder)
            if entry is not None and self._monotonic() - entry[0] < self._max_age:
                self._entries.move_to_end(holder)
                return entry[1]
        before = self._changes
        try:
            grants = tuple(await self.store.of_subject(*holder))
        except StoreUnavailable:
            return None
        if trusted and self._trusted() and before == self._changes:
            self._entries[holder] = (self._monotonic(), grants)
            self._entries.move_to_end(holder)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return grants

    def invalidate(self, provider: str, subject: str) -> None:
        self._changes += 1
        self._entries.pop((provider, subject), None)

    def drop_all(self) -> None:
        self._changes += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
