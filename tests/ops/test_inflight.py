"""`InFlight`: requests counted by the generation they started on."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from authgate.ops.inflight import InFlight


async def test_finished_waits_for_the_old_generation_only() -> None:
    inflight = InFlight()
    old = inflight.enter()
    ended = inflight.advance()
    new = inflight.enter()
    assert (old, ended, new) == (0, 0, 1)
    waiting = asyncio.create_task(inflight.finished(ended, timeout=5))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    inflight.leave(old)
    assert await waiting  # the request of generation 1 does not hold it up
    assert inflight.count == 1


async def test_finished_gives_up_after_the_timeout() -> None:
    inflight = InFlight()
    inflight.enter()
    assert not await inflight.finished(inflight.advance(), timeout=0.05)


async def test_counted_handler_is_counted_while_it_runs() -> None:
    inflight = InFlight()
    seen: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(inflight.count)
        return web.Response()

    await inflight.counted(handler)(make_mocked_request("GET", "/"))
    assert seen == [1] and inflight.count == 0


async def test_a_failing_handler_still_leaves() -> None:
    inflight = InFlight()

    async def handler(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("bug")

    try:
        await inflight.counted(handler)(make_mocked_request("GET", "/"))
    except RuntimeError:
        pass
    assert inflight.count == 0
