"""The `HistoryStore` contract, run against the memory store and a real Redis.

Every test takes `store` (parametrized: memory, redis) and moves the fake clock;
validity is computed from stored times and the caller's `now` in both stores.
"""

from __future__ import annotations

import pytest

from authgate.risk.history import HistoryStore, ip_key, user_key
from authgate.risk.model import History, Location
from authgate.risk.signal import Signal
from tests.risk.conftest import LONDON, PARIS, SYDNEY, TTL, WINDOW
from tests.testbed.clock import FakeClock

ALICE, BOB = user_key("corp", "alice"), user_key("corp", "bob")


def here(clock: FakeClock, place: object = LONDON) -> Location | None:
    return Location.from_geo(place, clock.now)  # type: ignore[arg-type]


async def test_an_unknown_user_has_no_history(store: HistoryStore, clock: FakeClock) -> None:
    assert await store.get(ALICE, clock.now) == History()


async def test_an_allowed_request_is_remembered(store: HistoryStore, clock: FakeClock) -> None:
    await store.record_allowed(ALICE, here(clock), "dev-1", clock.now)
    history = await store.get(ALICE, clock.advance(60))
    assert history.last_location == Location(clock.now - 60, "GB", 51.5074, -0.1278, 20.0)
    assert history.devices == {"dev-1"} and history.countries == {"GB"}
    assert history.recorded_at == clock.now - 60
    assert await store.get(BOB, clock.now) == History()  # users do not share


async def test_the_last_location_moves_and_sets_grow(store: HistoryStore, clock: FakeClock) -> None:
    await store.record_allowed(ALICE, here(clock, LONDON), "dev-1", clock.now)
    await store.record_allowed(ALICE, here(clock, PARIS), "dev-2", clock.advance(86400))
    history = await store.get(ALICE, clock.now)
    assert history.last_location is not None and history.last_location.country == "FR"
    assert history.devices == {"dev-1", "dev-2"} and history.countries == {"GB", "FR"}


async def test_no_location_keeps_the_last_one(store: HistoryStore, clock: FakeClock) -> None:
    await store.record_allowed(ALICE, here(clock), None, clock.now)
    await store.record_allowed(ALICE, None, "dev-1", clock.advance(10))
    history = await store.get(ALICE, clock.now)
    assert history.last_location is not None and history.last_location.at == clock.now - 10
    assert history.devices == {"dev-1"} and history.recorded_at == clock.now


async def test_what_is_unseen_for_the_ttl_is_forgotten(
    store: HistoryStore, clock: FakeClock
) -> None:
    await store.record_allowed(ALICE, here(clock), "old-device", clock.now)
    await store.record_allowed(ALICE, None, "kept-device", clock.advance(TTL / 2))
    history = await store.get(ALICE, clock.advance(TTL / 2 + 1))
    assert history.devices == {"kept-device"}
    assert history.countries == frozenset() and history.last_location is None
    assert await store.get(ALICE, clock.advance(TTL)) == History()


async def test_devices_over_the_cap_drop_the_least_recent(
    store: HistoryStore, clock: FakeClock
) -> None:
    for device in ("a", "b", "c"):
        await store.record_allowed(ALICE, None, device, clock.advance(1))
    await store.record_allowed(ALICE, None, "a", clock.advance(1))  # a is recent again
    await store.record_allowed(ALICE, None, "d", clock.advance(1))  # max_devices = 3
    assert (await store.get(ALICE, clock.now)).devices == {"a", "c", "d"}


async def test_countries_over_the_cap_drop_the_least_recent(
    store: HistoryStore, clock: FakeClock
) -> None:
    for place in (LONDON, PARIS, SYDNEY):  # max_countries = 2
        await store.record_allowed(ALICE, here(clock, place), None, clock.advance(3600))
    assert (await store.get(ALICE, clock.now)).countries == {"FR", "AU"}


# ------------------------------------------------------------------ failed logins


async def test_failed_logins_count_within_the_window(store: HistoryStore, clock: FakeClock) -> None:
    assert [await store.record_failed_login(ALICE, clock.advance(1)) for _ in range(3)] == [1, 2, 3]
    assert await store.failed_logins(ALICE, clock.now) == 3
    assert (await store.get(ALICE, clock.now)).failed_logins == 3
    assert await store.failed_logins(BOB, clock.now) == 0


async def test_failed_logins_start_over_after_the_window(
    store: HistoryStore, clock: FakeClock
) -> None:
    start = clock.now
    await store.record_failed_login(ALICE, start)
    await store.record_failed_login(ALICE, clock.advance(WINDOW - 1))
    assert await store.failed_logins(ALICE, clock.now) == 2
    assert await store.failed_logins(ALICE, start + WINDOW) == 0
    assert await store.record_failed_login(ALICE, start + WINDOW) == 1


async def test_history_counts_the_worse_of_user_and_client_ip(
    store: HistoryStore, clock: FakeClock
) -> None:
    for _ in range(4):
        await store.record_failed_login(ip_key("203.0.113.9"), clock.now)
    await store.record_failed_login(ALICE, clock.now)
    assert (await store.get(ALICE, clock.now)).failed_logins == 1
    history = await store.get(ALICE, clock.now, client_ip="203.0.113.9")
    assert history.failed_logins == 4


# ------------------------------------------------------------------ acknowledgements


async def test_an_acknowledgement_holds_for_its_session_only(
    store: HistoryStore, clock: FakeClock
) -> None:
    acknowledged = {Signal.ANONYMOUS_NETWORK, Signal.OUTSIDE_HOURS}
    until = clock.now + 3600
    await store.acknowledge(ALICE, "session-1", acknowledged, clock.now, until)
    assert (await store.get(ALICE, clock.now, session_id="session-1")).acknowledged == acknowledged
    assert (await store.get(ALICE, clock.now, session_id="session-2")).acknowledged == frozenset()
    assert (await store.get(ALICE, clock.now)).acknowledged == frozenset()
    assert (await store.get(BOB, clock.now, session_id="session-1")).acknowledged == frozenset()


async def test_an_acknowledgement_ends_with_its_session(
    store: HistoryStore, clock: FakeClock
) -> None:
    until = clock.now + 3600
    await store.acknowledge(ALICE, "s", [Signal.IP_REPUTATION], clock.now, until)
    before = await store.get(ALICE, until - 1, session_id="s")
    assert before.acknowledged == {Signal.IP_REPUTATION}
    assert (await store.get(ALICE, until, session_id="s")).acknowledged == frozenset()


async def test_a_new_acknowledgement_replaces_the_session_s_last(
    store: HistoryStore, clock: FakeClock
) -> None:
    until = clock.now + 3600
    await store.acknowledge(ALICE, "s", [Signal.IP_REPUTATION], clock.now, until)
    await store.acknowledge(ALICE, "s", [Signal.NEW_DEVICE], clock.advance(1), until)
    assert (await store.get(ALICE, clock.now, session_id="s")).acknowledged == {Signal.NEW_DEVICE}


async def test_acknowledging_keeps_the_history(store: HistoryStore, clock: FakeClock) -> None:
    await store.record_allowed(ALICE, here(clock), "dev-1", clock.now)
    await store.acknowledge(ALICE, "s", [Signal.NEW_COUNTRY], clock.now, clock.now + 60)
    history = await store.get(ALICE, clock.now, session_id="s")
    assert history.devices == {"dev-1"} and history.countries == {"GB"}


@pytest.mark.parametrize("count", [20])
async def test_acknowledgements_are_bounded(
    store: HistoryStore, clock: FakeClock, count: int
) -> None:
    for n in range(count):  # more sessions than kept: the earliest-ending go first
        await store.acknowledge(ALICE, f"s{n}", [Signal.NEW_DEVICE], clock.now, clock.now + n + 1)
    assert (await store.get(ALICE, clock.now, session_id="s0")).acknowledged == frozenset()
    last = await store.get(ALICE, clock.now, session_id=f"s{count - 1}")
    assert last.acknowledged == {Signal.NEW_DEVICE}
