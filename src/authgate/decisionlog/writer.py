"""The decision log: records in, JSON lines out, never in the way of a request.

Contract:

* `submit()` runs on the request path, on the event loop thread. It never blocks,
  never awaits and never raises: it appends to a bounded queue, or, when the queue is
  full (or the log is closing), counts the record as dropped and returns.
* A writer task (`start()`) drains the queue in batches of up to `BATCH_SIZE`,
  serializes them and hands each batch to every sink in a worker thread
  (`asyncio.to_thread`), one batch at a time, so a slow disk stalls the writer, not
  the loop. `to_thread` over `run_in_executor`: same default executor and same cost
  (it is `run_in_executor` plus a context copy), no loop handle to pass around, and at
  most one thread is busy at a time because batches are awaited in turn.
* Drops are never silent: the next batch written after a drop carries one line
  `{"event":"decision-log-dropped","time":...,"count":N,"total":T}` to every sink and
  a warning goes to `logging`; drops still unreported at close are reported then.
* A sink that raises loses that batch; the other sinks still get it. Failures are
  logged on the first and then every `FAILURE_LOG_EVERY`-th failure of that sink,
  not once per batch or record.
* Taps (`taps=`, e.g. the dashboard's `DashboardTap.absorb`) get each batch in the
  worker thread, after the sinks, once per batch: whatever they count costs the
  request path nothing. A tap that raises is logged; the batch is still written.
* `close(timeout)` stops accepting records, writes everything queued, then closes the
  sinks, all within `timeout` seconds; what could not be written by then is counted
  as dropped and logged. Call it after the server has drained its requests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from authgate.config.schema import DecisionLogConfig
from authgate.decisionlog.record import DecisionRecord, encode_line, rfc3339_millis
from authgate.decisionlog.sinks import Sink, build_sinks

logger = logging.getLogger(__name__)

# Called in the writer's worker thread with each batch of records handed to the sinks.
Tap = Callable[[list[DecisionRecord]], None]

BATCH_SIZE = 256
COALESCE_SECONDS = 0.02
FAILURE_LOG_EVERY = 100
DROP_EVENT = "decision-log-dropped"


class DecisionLog:
    """A bounded queue of decision records and the task that writes them to sinks."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        queue_size: int = 10_000,
        batch_size: int = BATCH_SIZE,
        clock: Callable[[], float] = time.time,
        idle_checkpoint: float | None = None,
        taps: Sequence[Tap] = (),
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be at least 1")
        self._sinks = tuple(sinks)
        self._taps = tuple(taps)
        self._capacity = queue_size
        self._batch_size = batch_size
        self._clock = clock
        self._pending: deque[DecisionRecord] = deque()
        self._wakeup = asyncio.Event()
        self._flush_waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._closing = False
        self._dropped = 0
        self._unreported = 0
        self._written = 0
        self._failures = [0] * len(self._sinks)
        # Chained sinks sign what they hold when the writer has been idle this long,
        # so the last lines before a quiet spell do not stay unsigned (chain.py).
        self._idle_checkpoint = idle_checkpoint

    @classmethod
    def from_config(
        cls, config: DecisionLogConfig, state_dir: str | None = None, taps: Sequence[Tap] = ()
    ) -> DecisionLog:
        chained = [
            entry.chain.checkpoint_every
            for entry in config.sinks
            if not isinstance(entry, str) and entry.chain is not None
        ]
        return cls(
            build_sinks(config, state_dir),
            queue_size=config.queue_size,
            idle_checkpoint=min(chained) if chained else None,
            taps=taps,
        )

    @property
    def dropped(self) -> int:
        """Records never handed to the sinks: queue full, closing, or unserializable."""
        return self._dropped

    @property
    def written(self) -> int:
        """Records handed to the sinks (a failing sink may still have lost some)."""
        return self._written

    @property
    def sink_failures(self) -> tuple[int, ...]:
        """Failed batches per sink, in the order the sinks were given."""
        return tuple(self._failures)

    def submit(self, record: DecisionRecord) -> None:
        """Queue `record` for writing, or count it as dropped. Event loop thread only."""
        if self._closing or len(self._pending) >= self._capacity:
            self._dropped += 1
            self._unreported += 1
            return
        self._pending.append(record)
        self._wakeup.set()

    async def start(self) -> None:
        """Start the writer task (idempotent)."""
        if self._task is None and not self._closing:
            self._task = asyncio.create_task(self._run(), name="decision-log-writer")

    async def flush(self) -> None:
        """Wait until every record submitted so far has been handed to the sinks."""
        if self._task is None:
            raise RuntimeError("DecisionLog.flush() before start()")
        while not self._task.done() and (self._pending or self._unreported or self._in_flight):
            waiter = asyncio.get_running_loop().create_future()
            self._flush_waiters.append(waiter)
            await waiter

    async def reopen(self) -> None:
        """Reopen file sinks (after logrotate), off the loop: a write may hold the file."""
        await asyncio.to_thread(self._reopen_files)

    async def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then close the sinks, within `timeout` seconds."""
        if self._closing:
            return
        self._closing = True
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="decision-log-writer")
        self._wakeup.set()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.wait({self._task})
                await asyncio.to_thread(self._close_sinks)
        except TimeoutError:
            self._abandon(timeout)

    async def _run(self) -> None:
        try:
            while True:
                if self._pending or self._unreported:
                    await self._coalesce()
                    await self._write_next_batch()
                elif self._closing:
                    return
                else:
                    self._notify_flushed()
                    self._wakeup.clear()
                    await self._idle()
        finally:
            self._notify_flushed()

    async def _idle(self) -> None:
        if self._idle_checkpoint is None:
            await self._wakeup.wait()
            return
        try:
            async with asyncio.timeout(self._idle_checkpoint):
                await self._wakeup.wait()
        except TimeoutError:
            await asyncio.to_thread(self._checkpoint_sinks)

    async def _coalesce(self) -> None:
        """Let a batch build up briefly before the hand-off to the thread.

        Handing over each record alone costs a thread wake-up and a GIL hand-off per
        request (measured: ~120 µs of CPU per record, against ~17 µs coalesced — see
        docs/performance.md). A record reaches the sinks at most this much later.
        """
        if not self._closing and len(self._pending) < self._batch_size:
            await asyncio.sleep(COALESCE_SECONDS)

    async def _write_next_batch(self) -> None:
        take = min(self._batch_size, len(self._pending))
        batch = [self._pending.popleft() for _ in range(take)]
        extra = self._drop_report()
        self._in_flight = len(batch)
        try:
            serialized = await asyncio.to_thread(self._write, batch, extra)
        except Exception:  # a bug in the writer; the log must outlive it
            logger.exception("decision log: batch of %d records lost", len(batch))
            serialized = 0
        self._in_flight = 0
        self._written += serialized
        self._dropped += len(batch) - serialized
        self._notify_flushed()

    def _drop_report(self) -> list[str]:
        count, self._unreported = self._unreported, 0
        if not count:
            return []
        logger.warning("decision log queue full: dropped %d records (%d in total)", count,
                       self._dropped)
        fields: dict[str, object] = {
            "event": DROP_EVENT,
            "time": rfc3339_millis(self._clock()),
            "count": count,
            "total": self._dropped,
        }
        return [encode_line(fields)]

    def _notify_flushed(self) -> None:
        waiters, self._flush_waiters = self._flush_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _abandon(self, timeout: float) -> None:
        lost = len(self._pending) + self._in_flight
        self._pending.clear()
        self._dropped += lost
        if self._task is not None:
            self._task.cancel()
        logger.error("decision log not flushed within %.1fs: %d records lost", timeout, lost)
        # A write may still hold a sink; close them when it lets go, without waiting.
        threading.Thread(target=self._close_sinks, name="decision-log-close", daemon=True).start()

    # --- worker thread side: called via asyncio.to_thread, one call at a time ---------

    def _write(self, batch: list[DecisionRecord], extra: list[str]) -> int:
        lines = _serialize(batch)
        serialized = len(lines)
        lines.extend(extra)
        for index, sink in enumerate(self._sinks):
            self._write_to(index, sink, lines)
        for tap in self._taps:
            try:
                tap(batch)
            except Exception:  # a tap is a reader: it must never cost the log a batch
                logger.exception("decision log tap %r failed", tap)
        return serialized

    def _write_to(self, index: int, sink: Sink, lines: list[str]) -> None:
        try:
            sink.write_lines(lines)
        except Exception:
            self._failures[index] += 1
            failures = self._failures[index]
            if failures == 1 or failures % FAILURE_LOG_EVERY == 0:
                logger.error("decision log sink %r failed (%d failed batches so far)", sink,
                             failures, exc_info=True)

    def _checkpoint_sinks(self) -> None:
        for index, sink in enumerate(self._sinks):
            checkpoint = getattr(sink, "checkpoint", None)  # chained file sinks
            if checkpoint is None:
                continue
            try:
                checkpoint()
            except Exception:
                self._failures[index] += 1
                logger.exception("decision log sink %r failed to checkpoint", sink)

    def _reopen_files(self) -> None:
        for sink in self._sinks:
            reopen = getattr(sink, "reopen", None)  # file sinks, also behind a wrapper
            if reopen is not None:
                reopen()

    def _close_sinks(self) -> None:
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:
                logger.exception("decision log sink %r failed to close", sink)


def _serialize(batch: list[DecisionRecord]) -> list[str]:
    lines: list[str] = []
    for record in batch:
        try:
            lines.append(record.to_json())
        except Exception:  # one bad record must not cost the batch
            logger.exception("decision record could not be serialized; dropped")
    return lines
