"""The grant sweeper: ends grants and requests that are due, in every process.

Contract: the cleanup context `grant_sweeper(app)` runs, every `SWEEP_SECONDS`, the
current generation's `GrantService.expire_due()` — only while some entitlement is
configured. A grant stops counting at its end whether or not this has run
(`Grant.status_at`): the sweeper only writes the state down, frees the indexes and
records `grant-expired` once (the store's compare-and-set picks one process among
all the replicas). A store failure is logged and retried at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from authgate.access.service import GrantService
from authgate.server.state import DECISION_LOG, GENERATION
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0


async def sweep_once(app: web.Application) -> int:
    generation = app.get(GENERATION)
    if generation is None or not generation.config.entitlements:
        return 0
    service = GrantService(
        generation.auth.access, generation.config.entitlements, record=app[DECISION_LOG].submit
    )
    return len(await service.expire_due())


async def grant_sweeper(app: web.Application) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await sweep_once(app)
            except StoreUnavailable as error:
                log.warning("grant sweeper: store unavailable: %s", error)
            except Exception:
                log.exception("grant sweeper failed; next attempt in %ss", SWEEP_SECONDS)

    task = asyncio.create_task(loop(), name="grant-sweeper")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
