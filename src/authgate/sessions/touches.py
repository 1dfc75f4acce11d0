"""Write-behind of idle-timeout touches: off the request path, bounded.

Contract: `offer(session_id, now)` queues a touch and returns at once; one
background task writes the queued touches to the store (`touch(session_id, now)`,
up to `CONCURRENCY` at a time), the latest `now` per session only. At most `limit`
sessions wait at once: `offer` answers False when the queue is full and the session
is not already in it — the caller then touches inline, on its request, so back
pressure slows requests down rather than losing a touch. A touch that fails (the
store is down) is dropped and logged once per outage: the idle end then stays where
the last write put it, which can end the session early, never late. `close()`
writes what is queued, for at most `timeout` seconds, then stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)

Touch = Callable[[str, float], Awaitable[None]]
CONCURRENCY = 32


class TouchWriter:
    def __init__(self, touch: Touch, *, limit: int = 10_000) -> None:
        self._touch = touch
        self._limit = limit
        self._pending: dict[str, float] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._closed = False

    def __len__(self) -> int:
        return len(self._pending)

    def offer(self, session_id: str, now: float) -> bool:
        if self._closed:
            return False
        if session_id not in self._pending and len(self._pending) >= self._limit:
            return False
        self._pending[session_id] = now
        if self._wake is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(self._wake), name="session-touches")
        self._wake.set()
        return True

    async def _run(self, wake: asyncio.Event) -> None:
        while not self._closed or self._pending:
            await wake.wait()
            wake.clear()
            await self._write_pending()

    async def _write_pending(self) -> None:
        while self._pending:
            batch = list(self._pending.items())[:CONCURRENCY]
            for session_id, _ in batch:
                del self._pending[session_id]
            await asyncio.gather(*(self._write(sid, now) for sid, now in batch))

    async def _write(self, session_id: str, now: float) -> None:
        try:
            await self._touch(session_id, now)
        except StoreUnavailable as error:
            if not self._failing:
                log.warning("idle touches are not being written (the store failed): %s", error)
            self._failing = True
            return
        except Exception:  # a bug must not stop the writer: the queue would only fill
            log.exception("an idle touch failed")
            return
        self._failing = False

    async def close(self, timeout: float = 2.0) -> None:
        self._closed = True
        if self._task is None or self._wake is None:
            return
        self._wake.set()  # the task writes what is left, then ends
        done, _ = await asyncio.wait([self._task], timeout=timeout)
        if not done:
            log.warning("%d idle touches not written at shutdown", len(self._pending))
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
