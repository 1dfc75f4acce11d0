"""Rate-limit checks of one event-loop tick sent to Redis together.

Contract: `CheckBatcher(send, slot_of)` collects the checks submitted while the event
loop runs one round of callbacks and sends them, on the next round, as one call of
`send(items)` per group — one group per Redis Cluster hash slot (`slot_of`), or one
group in all for a single Redis / Sentinel master (`slot_of=None`). `submit(item)`
answers a future that gets that check's reply, or the exception the group's call
raised (every check of a failed call fails the same way: the limiter turns Redis
errors into `LimiterUnavailable`, and callers apply `on_store_error`). A group holds
at most `max_batch` checks; more are sent as further calls.

Why: each check on its own is one EVALSHA through redis-py, whose encoding, parsing
and socket work cost more CPU than the rest of a request (issue 12 measured it). Under
load many requests reach their limit check in the same tick; one script call for all
of them costs about as much as one alone. Exactness is kept: the batched script runs
the checks one after another inside one atomic script, in submission order, so two
checks of one key in a batch see each other exactly as two round trips would — and
no other client can run between them (stronger than separate calls, never weaker).
The cost is at most one loop round of extra latency for the first check of a tick.

A check whose caller is cancelled while waiting still runs (the script may already
have been sent): the cell is spent, as it was with one round trip per check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

MAX_BATCH = 64  # checks per script call: keeps one call's reply and Lua run short


class CheckBatcher(Generic[Item]):
    def __init__(
        self,
        send: Callable[[list[Item]], Awaitable[list[Any]]],
        slot_of: Callable[[Item], Hashable] | None = None,
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._send = send
        self._slot_of = slot_of
        self._max = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Any]]] = []
        self._scheduled = False
        # The sending tasks, held so they are not collected mid-flight.
        self._in_flight: set[asyncio.Task[None]] = set()

    def submit(self, item: Item) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for group in self._groups(pending):
            for start in range(0, len(group), self._max):
                task = asyncio.ensure_future(self._run(group[start:start + self._max]))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    def _groups(
        self, pending: list[tuple[Item, asyncio.Future[Any]]]
    ) -> list[list[tuple[Item, asyncio.Future[Any]]]]:
        if self._slot_of is None:
            return [pending]
        groups: dict[Hashable, list[tuple[Item, asyncio.Future[Any]]]] = {}
        for entry in pending:
            groups.setdefault(self._slot_of(entry[0]), []).append(entry)
        return list(groups.values())

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Any]]]) -> None:
        try:
            replies = await self._send([item for item, _ in batch])
            if len(replies) != len(batch):
                raise RuntimeError(f"{len(replies)} replies to {len(batch)} checks")
        except Exception as error:  # every waiter learns of it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (the limiter closing): nobody is left hanging
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), reply in zip(batch, replies, strict=True):
            if not future.done():  # its caller may have been cancelled meanwhile
                future.set_result(reply)

    async def close(self) -> None:
        """Let the calls in flight finish (their waiters get their answers)."""
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
