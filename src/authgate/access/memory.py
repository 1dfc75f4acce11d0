"""The memory grant store: one process (`authgate.access.store` contract)."""

from __future__ import annotations

import time

from authgate.access.model import ENDED, OPEN, Grant, GrantState
from authgate.access.store import Clock


class MemoryGrantStore:
    def __init__(self, *, retention: float, request_timeout: float, clock: Clock = time.time) -> None:
        self._grants: dict[str, Grant] = {}
        self._retention = retention
        self._request_timeout = request_timeout
        self._clock = clock

    async def create(self, grant: Grant) -> None:
        self._forget_old()
        if grant.id in self._grants:
            raise ValueError(f"grant {grant.id} exists")
        self._grants[grant.id] = grant

    async def get(self, grant_id: str) -> Grant | None:
        self._forget_old()
        return self._grants.get(grant_id)

    async def replace(self, grant: Grant, expected: frozenset[GrantState]) -> bool:
        stored = self._grants.get(grant.id)
        if stored is None or stored.state not in expected:
            return False
        self._grants[grant.id] = grant
        return True

    async def of_subject(self, provider: str, subject: str) -> list[Grant]:
        return [
            g for g in self._grants.values()
            if g.provider == provider and g.subject == subject and g.state in OPEN
        ]  # fmt: skip

    async def pending(self) -> list[Grant]:
        return [g for g in self._grants.values() if g.state is GrantState.REQUESTED]

    async def recent(self, limit: int = 200) -> list[Grant]:
        self._forget_old()
        ordered = sorted(self._grants.values(), key=lambda g: g.requested_at, reverse=True)
        return ordered[:limit]

    async def due(self, now: float) -> list[Grant]:
        return [g for g in self._grants.values() if _due(g, now, self._request_timeout)]

    def configure(self, *, retention: float, request_timeout: float) -> None:
        self._retention = retention
        self._request_timeout = request_timeout

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._grants)

    def _forget_old(self) -> None:
        horizon = self._clock() - self._retention
        for grant_id in [
            g.id for g in self._grants.values()
            if g.state in ENDED and (g.decided_at or g.requested_at) < horizon
        ]:  # fmt: skip
            del self._grants[grant_id]


def _due(grant: Grant, now: float, request_timeout: float) -> bool:
    if grant.state is GrantState.ACTIVE:
        return grant.expires_at is not None and now >= grant.expires_at
    return grant.state is GrantState.REQUESTED and now >= grant.requested_at + request_timeout
