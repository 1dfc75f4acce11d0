"""Counts of re-evaluations, for the metrics (`ops.metrics`).

Contract: `count(kind, reason)` adds one re-evaluation of `kind` (`refresh`: a
session refreshed or re-verified on a request; `connection`: a long-lived connection
re-checked or closed) that ended with `reason` (a `Reason` value: `groups-changed`,
`reverify-failed`, `session-ended`, `unchanged`, ...). `drain()` hands the counts
gathered since the last drain to `Metrics.flush`, which adds them to the counter
`authgate_reevaluations_total{kind, reason}`. Both label sets are closed, so the series
stay bounded. One per process, event loop thread only; pure module.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["refresh", "connection"]
UNCHANGED = "unchanged"

_counts: dict[tuple[str, str], int] = {}


def count(kind: Kind, reason: str) -> None:
    key = (kind, reason)
    _counts[key] = _counts.get(key, 0) + 1


def drain() -> dict[tuple[str, str], int]:
    global _counts
    counts, _counts = _counts, {}
    return counts
