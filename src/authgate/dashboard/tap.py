"""The dashboard's feed: the recent decisions and their rolling aggregates, bounded.

Contract: `DashboardTap.absorb(batch)` takes a batch of `DecisionRecord`s. The decision
log calls it from its writer thread (`DecisionLog(taps=...)`), with the batch it is
handing to the sinks, so a request pays nothing for the dashboard: the per-record work
(a `Rollup.add`, a ring append) happens there, off the event loop, a batch at a time.
`absorb` never raises into the writer (a failure is logged and that batch skipped).

The readers (`recent`, `find`, `series`, `summary`) run on the admin listener's event
loop; one lock, held for one batch or one read, keeps them consistent with the writer
thread. A read copies what it needs under the lock and shapes it afterwards.

Bounds: the ring keeps the newest `recent` records (default `RECENT`); the rollup is
bounded by its own rings (`dashboard.rollup`). Pseudonymization: when a decision-log
sink pseudonymizes `user` or `client_ip`, the tap stores those fields pseudonymized
the same way (the same keyed hash, `decisionlog.pseudonyms`), so the dashboard never
shows what the log itself hides.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from authgate.dashboard.rollup import SECONDS, Rollup
from authgate.decisionlog.record import DecisionRecord

log = logging.getLogger(__name__)

RECENT = 2000

Pseudonym = Callable[[str], str]


class DashboardTap:
    """A ring of recent records and the rollup of every record absorbed."""

    def __init__(
        self,
        *,
        recent: int = RECENT,
        pseudonym: Pseudonym | None = None,
        fields: Sequence[str] = (),
    ) -> None:
        if recent < 1:
            raise ValueError("recent must be at least 1")
        self._ring: deque[DecisionRecord] = deque(maxlen=recent)
        self._rollup = Rollup()
        self._lock = threading.Lock()
        self._pseudonym = pseudonym if fields else None
        self._fields = tuple(fields)
        self.absorbed = 0

    def absorb(self, batch: Iterable[DecisionRecord]) -> None:
        """Count and keep `batch` (the writer thread; never raises)."""
        try:
            records = [self._hidden(record) for record in batch]
            with self._lock:
                for record in records:
                    self._rollup.add(record)
                self._ring.extend(records)
                self.absorbed += len(records)
        except Exception:  # the decision log must outlive a dashboard bug
            log.exception("dashboard: a batch of decision records was not counted")

    def _hidden(self, record: DecisionRecord) -> DecisionRecord:
        pseudonym = self._pseudonym
        if pseudonym is None:
            return record
        changes: dict[str, str] = {}
        for name in self._fields:
            value = getattr(record, name)
            if isinstance(value, str) and value:
                changes[name] = pseudonym(value)
        return record._replace(**changes) if changes else record  # type: ignore[arg-type]

    def recent(self) -> list[DecisionRecord]:
        """The ring, newest first."""
        with self._lock:
            records = list(self._ring)
        records.reverse()
        return records

    def find(self, request_id: str) -> DecisionRecord | None:
        with self._lock:
            records = list(self._ring)
        return next((r for r in reversed(records) if r.request_id == request_id), None)

    def series(self, now: float, span: int = SECONDS) -> dict[str, list[int]]:
        with self._lock:
            return self._rollup.series(now, span)

    def summary(self, now: float) -> dict[str, object]:
        with self._lock:
            return self._rollup.summary(now)
