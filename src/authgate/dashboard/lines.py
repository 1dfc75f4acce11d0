"""Decision-log lines back into records, for the dashboard's shared feeds.

Contract: `record_from_line(line)` turns one line a sink wrote (`DecisionRecord.to_json`,
perhaps pseudonymized) back into a `DecisionRecord`, or returns None for a line that is
not a request's record (the writer's `decision-log-dropped` event, a torn or foreign
line). The record has no `identity`: the line never carries one. Unknown decisions
or reasons are kept as text; time is parsed from the RFC 3339 form the writer uses.
Pure module.
"""

from __future__ import annotations

import calendar
import json
import time
from typing import Any

from authgate.decision import Outcome
from authgate.decisionlog.record import DecisionRecord

_OUTCOMES = {outcome.value: outcome for outcome in Outcome}


def parse_time(text: str) -> float:
    """`2026-11-29T10:00:00.123Z` -> epoch seconds."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)


def record_from_line(line: str) -> DecisionRecord | None:
    try:
        fields = json.loads(line)
        if not isinstance(fields, dict) or "request_id" not in fields:
            return None
        return _record(fields)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # a torn or foreign line: the dashboard skips it


def _record(f: dict[str, Any]) -> DecisionRecord:
    durations = tuple(
        (name.removesuffix("_ms"), float(value) / 1000)
        for name, value in (f.get("durations") or {}).items()
    )
    return DecisionRecord(
        time=parse_time(f["time"]),
        request_id=str(f["request_id"]),
        route=f.get("route"),
        method=str(f.get("method", "")),
        host=str(f.get("host", "")),
        path=str(f.get("path", "")),
        client_ip=str(f.get("client_ip", "")),
        decision=_OUTCOMES[f["decision"]],
        reason=str(f.get("reason", "")),
        rule=f.get("rule"),
        status=int(f.get("status", 0)),
        upstream_status=f.get("upstream_status"),
        durations=durations,
        user=f.get("user"),
        provider=f.get("provider"),
        country=f.get("country"),
        device=f.get("device"),
        risk=f.get("risk"),
        signals=tuple(f.get("signals") or ()),
        headers_dropped=tuple(f.get("headers_dropped") or ()),
        return_url_rejected=bool(f.get("return_url_rejected")),
        stripped=tuple(f.get("stripped") or ()),
        trace_id=f.get("trace_id"),
    )
