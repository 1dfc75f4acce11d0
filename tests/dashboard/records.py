"""Decision records for the dashboard tests: one builder, named personas."""

from __future__ import annotations

from typing import Any

from authgate.decision import Outcome
from authgate.decisionlog.record import DecisionRecord

T0 = 1_796_000_000.0  # a whole minute (divisible by 60)


def record(
    decision: Outcome = Outcome.ALLOW,
    *,
    at: float = T0,
    reason: str = "groups-ok",
    route: str | None = "app",
    user: str | None = "alice",
    ip: str = "192.0.2.1",
    total: float = 0.002,
    upstream: float | None = 0.001,
    **extra: Any,
) -> DecisionRecord:
    durations = (("total", total),) + ((("upstream", upstream),) if upstream is not None else ())
    fields: dict[str, Any] = {
        "time": at,
        "request_id": extra.pop("request_id", f"r{at:.3f}-{decision.value}-{reason}"),
        "route": route,
        "method": "GET",
        "host": "app.example.com",
        "path": "/x",
        "client_ip": ip,
        "decision": decision,
        "reason": reason,
        "rule": extra.pop("rule", "routes[app].policy.allow[0]"),
        "status": extra.pop("status", 200),
        "upstream_status": None,
        "durations": durations,
        "user": user,
    }
    fields.update(extra)
    return DecisionRecord(**fields)
