"""The `GrantStore` contract (`authgate.access.store`), run against memory and a real Redis."""

from __future__ import annotations

import asyncio

import pytest

from authgate.access.model import OPEN, Grant, GrantState
from authgate.access.store import GrantStore
from tests.access.conftest import REQUEST_TIMEOUT, requested
from tests.testbed.clock import FakeClock

REQUESTED = frozenset({GrantState.REQUESTED})
ACTIVE = frozenset({GrantState.ACTIVE})


async def test_create_get_exactly(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock, route="db")
    await grant_store.create(grant)
    assert await grant_store.get(grant.id) == grant
    assert await grant_store.get("g-unknown") is None


async def test_create_twice_is_refused(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock)
    await grant_store.create(grant)
    with pytest.raises(ValueError):
        await grant_store.create(grant)


async def test_replace_is_compare_and_set(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock)
    await grant_store.create(grant)
    active = grant.activated(clock.now, "alice")
    assert await grant_store.replace(active, REQUESTED)
    # A second approver (or a denial) loses: the stored state is no longer requested.
    denied = grant.ended(GrantState.DENIED, clock.now, "carol")
    assert not await grant_store.replace(denied, REQUESTED)
    assert await grant_store.get(grant.id) == active


async def test_replace_never_creates(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock)
    assert not await grant_store.replace(grant.activated(clock.now, "alice"), REQUESTED)
    assert await grant_store.get(grant.id) is None


async def test_racing_replaces_have_one_winner(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock)
    await grant_store.create(grant)
    outcomes = await asyncio.gather(
        *(grant_store.replace(grant.activated(clock.now, f"approver-{i}"), REQUESTED) for i in range(8))
    )
    assert sorted(outcomes) == [False] * 7 + [True]


async def test_of_subject_lists_open_grants_only(grant_store: GrantStore, clock: FakeClock) -> None:
    first, second, other = requested(clock), requested(clock, entitlement="kube-admin"), requested(clock, subject="eve-sub")
    for grant in (first, second, other):
        await grant_store.create(grant)
    await grant_store.replace(first.activated(clock.now, "alice"), REQUESTED)
    listed = await grant_store.of_subject("corp", "bob-sub")
    assert {g.id for g in listed} == {first.id, second.id}
    assert all(g.state in OPEN for g in listed)
    await grant_store.replace(second.ended(GrantState.DENIED, clock.now, "alice"), REQUESTED)
    assert [g.id for g in await grant_store.of_subject("corp", "bob-sub")] == [first.id]
    assert await grant_store.of_subject("other", "bob-sub") == []


async def test_pending_lists_requests(grant_store: GrantStore, clock: FakeClock) -> None:
    first, second = requested(clock), requested(clock)
    await grant_store.create(first)
    await grant_store.create(second)
    assert {g.id for g in await grant_store.pending()} == {first.id, second.id}
    await grant_store.replace(first.activated(clock.now, "alice"), REQUESTED)
    assert [g.id for g in await grant_store.pending()] == [second.id]


async def test_an_active_grant_expires_by_itself(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock, duration=60)
    await grant_store.create(grant)
    active = grant.activated(clock.now, "alice")
    await grant_store.replace(active, REQUESTED)
    assert active.holds("db-admin", "db", clock.advance(59))
    assert await grant_store.due(clock.now) == []
    clock.advance(1)
    # No writer needed: the reader sees it expired at its end.
    assert not active.holds("db-admin", "db", clock.now)
    assert active.status_at(clock.now) is GrantState.EXPIRED
    assert [g.id for g in await grant_store.due(clock.now)] == [grant.id]
    expired = active.ended(GrantState.EXPIRED, clock.now, None)
    assert await grant_store.replace(expired, ACTIVE)
    assert not await grant_store.replace(expired, ACTIVE)  # one sweeper records it
    assert await grant_store.due(clock.now) == []
    assert await grant_store.of_subject("corp", "bob-sub") == []


async def test_an_undecided_request_lapses(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock)
    await grant_store.create(grant)
    assert await grant_store.due(clock.advance(REQUEST_TIMEOUT - 1)) == []
    assert [g.id for g in await grant_store.due(clock.advance(1))] == [grant.id]


async def test_recent_lists_newest_first(grant_store: GrantStore, clock: FakeClock) -> None:
    made: list[Grant] = []
    for _ in range(3):
        made.append(requested(clock))
        await grant_store.create(made[-1])
        clock.advance(1)
    assert [g.id for g in await grant_store.recent()] == [g.id for g in reversed(made)]
    assert [g.id for g in await grant_store.recent(2)] == [made[2].id, made[1].id]


async def test_route_scope_is_kept_and_honoured(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock, route="db")
    await grant_store.create(grant)
    await grant_store.replace(grant.activated(clock.now, "alice"), REQUESTED)
    stored = await grant_store.get(grant.id)
    assert stored is not None and stored.route == "db"
    assert stored.holds("db-admin", "db", clock.now)
    assert not stored.holds("db-admin", "other-route", clock.now)
    assert not stored.holds("kube-admin", "db", clock.now)


async def test_ended_grants_stay_readable(grant_store: GrantStore, clock: FakeClock) -> None:
    grant = requested(clock)
    await grant_store.create(grant)
    revoked = grant.ended(GrantState.REVOKED, clock.now, "alice")
    assert await grant_store.replace(revoked, REQUESTED)
    assert await grant_store.get(grant.id) == revoked
    assert [g.id for g in await grant_store.recent()] == [grant.id]
