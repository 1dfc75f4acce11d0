"""What the dashboard's JSON APIs answer: records as rows, filters, one record explained.

Contract (no I/O; the admin handlers in `ops.dashboard` only parse and send):

* `Filters.parse(query)` reads `route`, `user`, `decision`, `reason`, `since`, `until`
  (epoch seconds) and `limit` (at most `MAX_ROWS`); a bad value is a `ValueError`
  naming the parameter. Empty values filter nothing. `route` `-` means "no route".
* `rows(records, filters)`: the records that pass every filter, newest first, at most
  `limit`, each as `row(record)` — the table's columns. A record passes `reason` when
  that code is one of its reasons (the record joins several with commas).
* `detail(record, generation)`: the whole record — rule path, every reason, risk
  score and signals, durations — and `explain`: the same request decided again by
  `policy.explain` against the generation the gateway runs now, at the record's time.
  The identity is the one the request had (kept in memory by the local feed); a
  record read back from a sink has only its `user`, so its explanation is marked
  `identity: "user-only"` (no groups, roles or claims: a policy on them will differ),
  or `"pseudonymized"` when the sink hid the user (then explained as anonymous).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.decision import Outcome
from authgate.decisionlog.record import DecisionRecord, rfc3339_millis
from authgate.identity import Identity
from authgate.policy.explain import explain

if TYPE_CHECKING:
    from authgate.generation import Generation

MAX_ROWS = 500
DEFAULT_ROWS = 100
NO_ROUTE = "-"
_DECISIONS = frozenset(o.value for o in Outcome)


@dataclass(frozen=True, slots=True)
class Filters:
    route: str | None = None
    user: str | None = None
    decision: str | None = None
    reason: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = DEFAULT_ROWS

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        decision = query.get("decision") or None
        if decision is not None and decision not in _DECISIONS:
            raise ValueError(f"decision: one of {sorted(_DECISIONS)}")
        limit = _number(query, "limit")
        if limit is not None and not 1 <= limit <= MAX_ROWS:
            raise ValueError(f"limit: 1 to {MAX_ROWS}")
        return cls(
            route=query.get("route") or None,
            user=query.get("user") or None,
            decision=decision,
            reason=query.get("reason") or None,
            since=_number(query, "since"),
            until=_number(query, "until"),
            limit=int(limit) if limit is not None else DEFAULT_ROWS,
        )

    def passes(self, record: DecisionRecord) -> bool:
        if self.route is not None and (record.route or NO_ROUTE) != self.route:
            return False
        if self.user is not None and record.user != self.user:
            return False
        if self.decision is not None and record.decision.value != self.decision:
            return False
        if self.reason is not None and self.reason not in record.reason.split(","):
            return False
        if self.since is not None and record.time < self.since:
            return False
        return self.until is None or record.time <= self.until


def _number(query: Mapping[str, str], name: str) -> float | None:
    text = query.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: a number (epoch seconds or a count)") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: a finite number")
    return value


def row(record: DecisionRecord) -> dict[str, object]:
    return {
        "time": record.time,
        "at": rfc3339_millis(record.time),
        "request_id": record.request_id,
        "route": record.route,
        "method": record.method,
        "host": record.host,
        "path": record.path,
        "client_ip": record.client_ip,
        "user": record.user,
        "country": record.country,
        "decision": record.decision.value,
        "reason": record.reason,
        "rule": record.rule,
        "status": record.status,
        "risk": record.risk,
    }


def rows(records: Iterable[DecisionRecord], filters: Filters) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for record in records:
        if filters.passes(record):
            found.append(row(record))
            if len(found) >= filters.limit:
                break
    return found


def detail(record: DecisionRecord, generation: Generation | None) -> dict[str, object]:
    found = row(record)
    found.update(
        reasons=record.reason.split(",") if record.reason else [],
        signals=list(record.signals),
        provider=record.provider,
        device=record.device,
        upstream_status=record.upstream_status,
        durations_ms={stage: round(seconds * 1000, 3) for stage, seconds in record.durations},
        trace_id=record.trace_id,  # to find the request's trace in Tempo or Jaeger
        headers_dropped=list(record.headers_dropped),
        stripped=list(record.stripped),
        explain=_explain(record, generation) if generation is not None else None,
    )
    return found


def _explain(record: DecisionRecord, generation: Generation) -> dict[str, object]:
    identity, kind = _identity(record)
    explanation = explain(
        generation.snapshot.routes,
        generation.config,
        url=f"http://{record.host or 'unknown.invalid'}{record.path or '/'}",
        method=record.method or "GET",
        identity=identity,
        ip=record.client_ip,
        country=record.country,
        now=record.time,
        risk=record.risk,
        policies=generation.server.policies,
    )
    return {
        "config_generation": generation.number,
        "identity": kind,
        "route": explanation.route_id,
        "decision": explanation.decision,
        "rule": explanation.rule,
        "reasons": list(explanation.reasons),
        "status": explanation.status,
        "path": explanation.path,
        "same_as_recorded": explanation.decision == record.decision.value
        and explanation.rule == record.rule,
    }


def _identity(record: DecisionRecord) -> tuple[Identity | None, str]:
    if record.identity is not None:
        return record.identity, "as-recorded"
    if record.user is None:
        return None, "anonymous"
    if record.user.startswith("p:"):  # a pseudonym (decisionlog/pseudonyms.py): nobody to rebuild
        return None, "pseudonymized"
    user = record.user
    return Identity(user, record.provider or "", "session", username=user), "user-only"
