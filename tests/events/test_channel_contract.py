"""The `EventChannel` contract, run against memory and a real Redis (see conftest)."""

from __future__ import annotations

import asyncio

import pytest

from authgate.events import EventKind, MemoryEventChannel, StateEvent
from tests.events.conftest import Heard, Pair, until

ENDED = StateEvent(EventKind.SESSION_ENDED, session_key="a" * 64, reason="logout")
CHANGED = StateEvent(EventKind.SESSION_CHANGED, session_key="b" * 64)
SUBJECT = StateEvent(EventKind.SUBJECT_ENDED, provider="corp", subject="alice")


async def test_an_event_reaches_the_other_end_and_the_publisher_itself(ends: Pair) -> None:
    mine, theirs = Heard().attach(ends.one), Heard().attach(ends.two)
    await ends.one.publish(ENDED)
    await until(lambda: ENDED in mine.events and ENDED in theirs.events)
    assert mine.losses == theirs.losses == 0


async def test_events_of_one_publisher_arrive_in_order(ends: Pair) -> None:
    heard = Heard().attach(ends.two)
    sent = [ENDED, CHANGED, SUBJECT] * 5
    for event in sent:
        await ends.one.publish(event)
    await until(lambda: len(heard.events) == len(sent))
    assert heard.events == sent


async def test_listeners_are_called_after_publish_returns(ends: Pair) -> None:
    heard = Heard().attach(ends.one)
    await ends.one.publish(ENDED)
    assert heard.events == []  # never inside publish: the caller's step finishes first
    await until(lambda: heard.events == [ENDED])


async def test_unsubscribed_listeners_hear_nothing_more(ends: Pair) -> None:
    kept, gone = Heard(), Heard()
    ends.two.subscribe(kept.events.append)
    unsubscribe = ends.two.subscribe(gone.events.append)
    unsubscribe()
    unsubscribe()  # twice is harmless
    await ends.one.publish(ENDED)
    await until(lambda: kept.events == [ENDED])
    assert gone.events == []


async def test_a_failing_listener_does_not_keep_the_others_from_hearing(
    ends: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_event: StateEvent) -> None:
        raise RuntimeError("listener bug")

    ends.two.subscribe(broken)
    heard = Heard().attach(ends.two)
    await ends.one.publish(ENDED)
    await until(lambda: heard.events == [ENDED])
    assert "a state-event listener failed" in caplog.text


async def test_a_closed_memory_channel_is_not_connected_and_delivers_nothing() -> None:
    channel = MemoryEventChannel()
    heard = Heard().attach(channel)
    await channel.start()
    assert channel.connected
    await channel.close()
    assert not channel.connected
    await channel.publish(ENDED)
    await asyncio.sleep(0.01)
    assert heard.events == []
