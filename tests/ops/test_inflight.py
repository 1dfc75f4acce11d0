"""`InFlight`: requests pinned to a generation and counted by its number."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from authgate.ops.inflight import InFlight
from authgate.server.state import GENERATION, REQUEST_GENERATION


def request_on(number: int) -> web.Request:
    """A request to an app whose current generation has `number` (only it is read)."""
    app = web.Application()
    app[GENERATION] = SimpleNamespace(number=number)  # type: ignore[assignment]
    return make_mocked_request("GET", "/", app=app)


async def test_finished_waits_for_the_old_generation_only() -> None:
    inflight = InFlight()
    inflight.enter(0)
    inflight.enter(1)
    waiting = asyncio.create_task(inflight.finished(0, timeout=5))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    inflight.leave(0)
    assert await waiting  # the request of generation 1 does not hold it up
    assert inflight.count == 1


async def test_finished_waits_for_older_generations_too() -> None:
    inflight = InFlight()
    inflight.enter(0)  # started two reloads ago
    assert not await inflight.finished(1, timeout=0.05)


async def test_finished_gives_up_after_the_timeout() -> None:
    inflight = InFlight()
    inflight.enter(0)
    assert not await inflight.finished(0, timeout=0.05)


async def test_counted_handler_pins_its_generation_and_is_counted_under_it() -> None:
    inflight = InFlight()
    request = request_on(4)
    seen: list[tuple[int, bool]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        request.app[GENERATION] = SimpleNamespace(number=5)  # type: ignore[assignment]  # a reload
        seen.append((inflight.count, await inflight.finished(3, timeout=0.01)))
        assert request[REQUEST_GENERATION].number == 4  # still the one it started on
        return web.Response()

    await inflight.counted(handler)(request)
    assert seen == [(1, True)] and inflight.count == 0


async def test_a_failing_handler_still_leaves() -> None:
    inflight = InFlight()

    async def handler(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("bug")

    try:
        await inflight.counted(handler)(request_on(0))
    except RuntimeError:
        pass
    assert inflight.count == 0
