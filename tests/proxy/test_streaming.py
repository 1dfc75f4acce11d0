"""Bodies stream both ways: 200 MB up and 200 MB down with the gateway's memory bounded."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from tests.testbed.echo import pattern_pieces, pattern_sha256
from tests.testbed.gateway import Gateway

SIZE = 200 * 1024 * 1024
# Generous for a Python process with aiohttp loaded (~40-60 MB idle), and far below
# what buffering a 200 MB body would cost.
GROWTH_LIMIT = 64 * 1024 * 1024

pytestmark = pytest.mark.slow


class PeakRss:
    """Samples the gateway's resident memory while a transfer runs."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.baseline = gateway.rss_bytes()
        self.peak = self.baseline
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.gateway.rss_bytes())
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def pattern_body(size: int) -> AsyncIterator[bytes]:
    for piece in pattern_pieces(size):
        yield piece


async def test_200mb_upload_streams(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway(max_body="256MiB")  # above the 100 MiB default
    async with PeakRss(gateway) as rss, aiohttp.ClientSession() as client:
        async with client.post(
            f"{gateway.url}/upload",
            data=pattern_body(SIZE),
            headers={"Host": "echo.test", "Content-Length": str(SIZE)},
        ) as response:
            echo = await response.json()
    assert echo["body_bytes"] == SIZE
    assert echo["body_sha256"] == pattern_sha256(SIZE)
    assert rss.peak - rss.baseline < GROWTH_LIMIT, (rss.baseline, rss.peak)


async def test_200mb_download_streams(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway()
    digest = hashlib.sha256()
    received = 0
    async with PeakRss(gateway) as rss, aiohttp.ClientSession() as client:
        async with client.get(
            f"{gateway.url}/__download?bytes={SIZE}", headers={"Host": "echo.test"}
        ) as response:
            assert response.status == 200
            assert response.content_length == SIZE
            async for chunk in response.content.iter_any():
                digest.update(chunk)
                received += len(chunk)
    assert received == SIZE
    assert digest.hexdigest() == pattern_sha256(SIZE)
    assert rss.peak - rss.baseline < GROWTH_LIMIT, (rss.baseline, rss.peak)
