"""In-flight caps per upstream: refuse at once past the cap, never queue."""

from __future__ import annotations

import asyncio

import pytest

from authgate.ratelimit.shedding import InflightGate, Overloaded, UpstreamGates


def test_enters_up_to_the_cap_then_refuses() -> None:
    gate = InflightGate(3)
    assert [gate.try_enter() for _ in range(4)] == [True, True, True, False]
    assert (gate.inflight, gate.shed) == (3, 1)
    gate.leave()
    assert gate.try_enter()


def test_no_cap_still_counts() -> None:
    gate = InflightGate(None)
    assert all(gate.try_enter() for _ in range(10_000))
    assert gate.inflight == 10_000


def test_leave_without_enter_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        InflightGate(1).leave()


@pytest.mark.parametrize("cap", [0, -1])
def test_a_cap_below_one_is_refused(cap: int) -> None:
    with pytest.raises(ValueError):
        InflightGate(cap)


def test_hold_raises_overloaded_and_always_gives_the_place_back() -> None:
    gate = InflightGate(1)
    with gate.hold():
        with pytest.raises(Overloaded) as refused, gate.hold():
            pass
        assert refused.value.max_inflight == 1
    with pytest.raises(KeyError), gate.hold():
        raise KeyError("upstream failed")
    assert gate.inflight == 0


async def test_concurrent_requests_past_the_cap_are_refused_not_queued() -> None:
    gate, release = InflightGate(3), asyncio.Event()
    peak = 0

    async def request() -> str:
        nonlocal peak
        try:
            with gate.hold():
                peak = max(peak, gate.inflight)
                await release.wait()
                return "served"
        except Overloaded:
            return "shed"

    tasks = [asyncio.create_task(request()) for _ in range(10)]
    await asyncio.sleep(0)  # every task has tried to enter
    release.set()
    outcomes = await asyncio.gather(*tasks)
    assert sorted(outcomes) == ["served"] * 3 + ["shed"] * 7
    assert peak == 3 and gate.inflight == 0


def test_one_gate_per_upstream() -> None:
    gates = UpstreamGates(1)
    assert gates.gate("http://a:80").try_enter()
    assert gates.gate("http://b:80").try_enter()
    assert not gates.gate("http://a:80").try_enter()
    assert sorted(name for name, _ in gates) == ["http://a:80", "http://b:80"]


def test_resize_keeps_the_requests_in_flight() -> None:
    gates = UpstreamGates(2)
    gate = gates.gate("http://a:80")
    gate.try_enter()
    gate.try_enter()
    gates.resize(3)
    assert gate.try_enter() and not gate.try_enter()
    assert gates.gate("http://new:80").max_inflight == 3
    with pytest.raises(ValueError):
        gates.resize(0)
