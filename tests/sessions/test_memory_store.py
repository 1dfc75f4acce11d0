"""What only the memory store has: bounded memory without a background task."""

from __future__ import annotations

import asyncio

import pytest

from authgate.sessions.memory import MemorySessionStore, NamedLocks
from authgate.sessions.store import LockTimeout
from tests.sessions.conftest import FakeClock, NewSession
from tests.sessions.personas import IDLE


async def test_ended_sessions_are_swept_without_being_read(
    clock: FakeClock, new_session: NewSession
) -> None:
    store = MemorySessionStore(idle_timeout=IDLE, clock=clock)
    for _ in range(20):
        await store.create(new_session())
    clock.advance(IDLE + 1)
    live = [new_session() for _ in range(3)]
    for session in live:
        await store.create(session)  # each create checks a few of the oldest
    assert len(store) == 3
    assert await store.delete_by_subject("corp", live[0].identity.subject) == 3


async def test_sweep_rotates_past_long_lived_sessions(
    clock: FakeClock, new_session: NewSession
) -> None:
    store = MemorySessionStore(idle_timeout=IDLE, clock=clock)
    keepers = [new_session() for _ in range(10)]  # more than one sweep looks at
    for session in keepers:
        await store.create(session)
    for _ in range(12):  # 6 h: within the keepers' absolute lifetime
        await store.create(new_session())  # idles out two rounds later
        clock.advance(IDLE / 2)
        for session in keepers:
            await store.touch(session.id, clock.now)
    assert len(store) <= 10 + 2  # not 22: active sessions at the front don't block it


async def test_one_time_keys_are_swept(clock: FakeClock) -> None:
    store = MemorySessionStore(idle_timeout=IDLE, clock=clock)
    for n in range(50):
        assert await store.remember_once(f"jti-{n}", ttl=1)
        clock.advance(0.5)
    assert len(store._once) <= 10


async def test_named_locks_leave_nothing_behind() -> None:
    locks = NamedLocks()
    async with locks.hold("a", wait=1):
        with pytest.raises(LockTimeout):
            async with locks.hold("a", wait=0.01):
                pass
        waiter = asyncio.create_task(_hold_briefly(locks, "a"))
        await asyncio.sleep(0.01)
        waiter_cancelled = waiter.cancel()
    assert waiter_cancelled
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(locks) == 0


async def _hold_briefly(locks: NamedLocks, name: str) -> None:
    async with locks.hold(name, wait=5):
        pass
