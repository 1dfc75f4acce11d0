"""The read clock as tables: which phase, when it expires, and why (time is stepped)."""

from __future__ import annotations

import pytest

from authgate.conn.clock import Phase, ReadClock
from authgate.conn.limits import Timeouts
from authgate.decision import Reason

T = Timeouts(header_read=10.0, idle=75.0, body_read=60.0, body_min_rate=240, body_grace=5.0)


def test_new_connection_is_idle_and_expires_silently() -> None:
    clock = ReadClock(T, now=100.0)
    assert clock.phase(busy=False) is Phase.IDLE
    assert clock.expired(174.9, busy=False) is None
    expiry = clock.expired(175.01, busy=False)
    assert expiry is not None and (expiry.phase, expiry.reason) == (Phase.IDLE, None)


def test_header_timer_counts_from_the_first_byte_however_slow_the_rest() -> None:
    clock = ReadClock(T, now=0.0)
    clock.head_received(1.0, 1)
    for second in range(2, 11):  # one byte a second: slowloris
        clock.head_received(float(second), 1)
    assert clock.head_bytes == 10
    expiry = clock.expired(11.01, busy=False)
    assert expiry is not None and (expiry.phase, expiry.reason) == (Phase.HEAD, Reason.HEADER_TIMEOUT)


def test_a_complete_head_without_body_is_busy_then_idle_after_the_answer() -> None:
    clock = ReadClock(T, now=0.0)
    clock.head_received(0.0, 100)
    clock.head_complete(0.5, body=False)
    assert clock.phase(busy=True) is Phase.BUSY
    assert clock.deadline(busy=True) is None
    clock.answered(300.0)  # a slow upstream: the idle time starts at the answer
    assert clock.phase(busy=False) is Phase.IDLE
    assert clock.deadline(busy=False) == 375.0


def test_pipelined_head_is_timed_from_the_answer_not_from_its_arrival() -> None:
    clock = ReadClock(T, now=0.0)
    clock.head_complete(0.0, body=False)
    clock.head_received(1.0, 5)  # the next request begins while the first is answered
    assert clock.phase(busy=True) is Phase.BUSY
    clock.answered(50.0)
    assert (clock.phase(busy=False), clock.deadline(busy=False)) == (Phase.HEAD, 60.0)


@pytest.mark.parametrize(
    ("arrivals", "when", "reason"),
    [
        # nothing after the head: at the grace the rate says so; not a byte is a stall
        ([], 5.01, Reason.BODY_TIMEOUT),
        # 1 byte/s never pauses long, but is under 240 B/s: cut at the grace
        ([(float(s), s) for s in range(1, 6)], 5.01, Reason.BODY_TOO_SLOW),
        # fast (24 KB in 1 s), then silent: 100 s of credit at the floor, so the stall
        # timer (last byte + 60 s) decides
        ([(1.0, 24_000)], 61.01, Reason.BODY_TIMEOUT),
    ],
    ids=["nothing", "one-byte-per-second", "fast-then-stall"],
)
def test_body_expires_by_stall_or_by_rate(
    arrivals: list[tuple[float, int]], when: float, reason: Reason
) -> None:
    clock = ReadClock(T, now=0.0)
    clock.head_complete(0.0, body=True)
    for at, total in arrivals:
        clock.body_received(at, total)
    assert clock.expired(when - 0.02, busy=True) is None
    expiry = clock.expired(when, busy=True)
    assert expiry is not None and (expiry.phase, expiry.reason) == (Phase.BODY, reason)


def test_rate_off_leaves_the_stall_timer() -> None:
    clock = ReadClock(Timeouts(10.0, 75.0, 60.0, 0, 5.0), now=0.0)
    clock.head_complete(0.0, body=True)
    clock.body_received(30.0, 1)
    assert clock.deadline(busy=True) == 90.0


def test_a_body_at_the_floor_rate_is_never_cut() -> None:
    clock = ReadClock(T, now=0.0)
    clock.head_complete(0.0, body=True)
    for second in range(1, 120):
        clock.body_received(float(second), 240 * second)
        assert clock.expired(float(second), busy=True) is None


def test_paused_reading_does_not_count_against_the_client() -> None:
    clock = ReadClock(T, now=0.0)
    clock.head_complete(0.0, body=True)
    clock.body_received(1.0, 64_000)
    clock.paused(2.0)  # the upstream reads slower than the client sends
    assert clock.deadline(busy=True) is None
    assert clock.expired(500.0, busy=True) is None
    clock.resumed(500.0)
    assert clock.expired(550.0, busy=True) is None  # 1 + 60 s of stall, shifted by 498
    expiry = clock.expired(559.01, busy=True)
    assert expiry is not None and expiry.reason is Reason.BODY_TIMEOUT


def test_body_complete_leaves_the_body_phase() -> None:
    clock = ReadClock(T, now=0.0)
    clock.head_complete(0.0, body=True)
    clock.body_complete()
    assert clock.phase(busy=True) is Phase.BUSY
