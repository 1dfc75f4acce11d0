"""A Slack-compatible webhook announcing grant requests and decisions.

Contract: `Webhook.announce(text)` never blocks, never awaits and never raises: it
puts `{"text": text}` on a bounded queue (`access.webhook.queue_size`), or drops it
with a warning when the queue is full. One background task, started by the first
announcement, POSTs each message in turn with the configured timeout; a failure (no
answer, a non-2xx status) is logged and the next message goes on. Nothing here is on
a request's path: a slow or dead chat service delays only other announcements.
`close()` gives the queue a moment (`CLOSE_GRACE`) to empty, then stops the task and
its HTTP client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from authgate.config.schema_access import WebhookConfig

log = logging.getLogger(__name__)
CLOSE_GRACE = 2.0


class Webhook:
    def __init__(self, config: WebhookConfig) -> None:
        self._url = str(config.url)
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=config.queue_size)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def announce(self, text: str) -> None:
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("access webhook: queue full, an announcement was dropped")
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="access-webhook")

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=self._timeout) as http:
            while True:
                text = await self._queue.get()
                try:
                    await self._post(http, text)
                finally:
                    self._queue.task_done()

    async def _post(self, http: aiohttp.ClientSession, text: str) -> None:
        try:
            async with http.post(self._url, json={"text": text}) as response:
                if response.status // 100 == 2:
                    self.sent += 1
                    return
                problem = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            problem = f"{type(error).__name__}: {error}"
        self.failed += 1
        log.warning("access webhook: announcement not delivered (%s)", problem)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), CLOSE_GRACE)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
