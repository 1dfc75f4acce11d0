"""The grant store interface: one Protocol, a memory and a Redis implementation.

Contract (every implementation, checked by one shared suite in `tests/access/`):

- `create(grant)` stores a new grant; an id already stored raises ValueError.
- `get(id)` answers the stored grant or None (an unknown id, or one past retention).
- `replace(grant, expected)` writes `grant` over the stored one with the same id only
  if the stored state is one of `expected`, atomically across every process sharing
  the store (compare-and-set): of two approvers, or an approver and a revoker, one
  wins and the other sees False. It never creates a grant.
- `of_subject(provider, subject)` the subject's open grants (requested, active) —
  as stored: an active grant past its end is still listed until `replace`d, and the
  reader decides with `Grant.status_at(now)`.
- `pending()` every grant in state requested; `recent(limit)` every stored grant,
  newest request first.
- `due(now)` the grants stored as active whose end has passed, and the requests
  older than `request_timeout` at `now`: the sweeper ends them with `replace`, and
  only the process whose `replace` succeeds records the event.
- Ended grants (denied, expired, revoked) are kept `retention` seconds, then forgotten.
- `configure(retention=, request_timeout=)` takes new values from a reloaded config
  (a kept store keeps its grants).
- Backend failures raise `StoreUnavailable`; no backend exception type leaves a store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from authgate.access.model import Grant, GrantState
from authgate.config.schema_access import AccessConfig
from authgate.config.schema_auth import StoreConfig

Clock = Callable[[], float]


class GrantStore(Protocol):
    async def create(self, grant: Grant) -> None: ...

    async def get(self, grant_id: str) -> Grant | None: ...

    async def replace(self, grant: Grant, expected: frozenset[GrantState]) -> bool: ...

    async def of_subject(self, provider: str, subject: str) -> list[Grant]: ...

    async def pending(self) -> list[Grant]: ...

    async def recent(self, limit: int = 200) -> list[Grant]: ...

    async def due(self, now: float) -> list[Grant]: ...

    def configure(self, *, retention: float, request_timeout: float) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def build_grant_store(config: StoreConfig, access: AccessConfig, clock: Clock = time.time) -> GrantStore:
    """The grant store beside the session store, on the same backend. No I/O here."""
    if config.backend == "memory":
        from authgate.access.memory import MemoryGrantStore

        return MemoryGrantStore(retention=access.retention, request_timeout=access.request_timeout, clock=clock)
    # Imported here so a memory-only gateway never loads the Redis client.
    from authgate.access.redis_store import RedisGrantStore
    from authgate.sessions.redis_client import redis_client

    return RedisGrantStore(
        redis_client(config), prefix=config.key_prefix, retention=access.retention,
        request_timeout=access.request_timeout, clock=clock, owns_client=True,
    )  # fmt: skip
