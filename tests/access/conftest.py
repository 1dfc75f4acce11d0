"""Fixtures of the grant tests: a fake clock, grant builders, and `grant_store`.

`grant_store` is the contract suite's subject twice: the memory store and the Redis
store on the session's real `redis_server`, each Redis test under a prefix of its own.
Both read the fake clock, so expiry and retention are tested by advancing it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from authgate.access.memory import MemoryGrantStore
from authgate.access.model import Grant, GrantState, new_grant_id
from authgate.access.redis_store import RedisGrantStore
from authgate.access.store import GrantStore
from tests.testbed.clock import FakeClock

RETENTION = 3600.0
REQUEST_TIMEOUT = 600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def grant_store(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[GrantStore]:
    built: GrantStore
    if request.param == "memory":
        built = MemoryGrantStore(retention=RETENTION, request_timeout=REQUEST_TIMEOUT, clock=clock)
    else:
        server = request.getfixturevalue("redis_server")
        built = RedisGrantStore.from_url(
            server.url, prefix=f"test:{uuid.uuid4().hex[:12]}:", retention=RETENTION,
            request_timeout=REQUEST_TIMEOUT, clock=clock,
        )  # fmt: skip
    yield built
    await built.close()


def requested(
    clock: FakeClock, *, subject: str = "bob-sub", entitlement: str = "db-admin", duration: float = 600.0,
    route: str | None = None,
) -> Grant:
    return Grant(
        id=new_grant_id(), provider="corp", subject=subject, user=subject.removesuffix("-sub"),
        entitlement=entitlement, state=GrantState.REQUESTED, requested_at=clock.now,
        duration=duration, reason="INC-42: replica lag", requested_by=subject.removesuffix("-sub"),
        route=route,
    )  # fmt: skip
