"""The decision record of one security event, and where records go.

Contract: `event_record(applied, provider, delivery)` is the record an event leaves
whatever its effect — pushed or polled, acted on, acknowledged or unknown: decision
`deny` when it ended or lowered sessions, else `allow`; `reason` the effect's
(`session-revoked-by-provider`, `signal-event-unknown`...); rule `signal:<type>`
(the type's last segment); `user` the subject's `sub` or email; `provider` the
provider id; status `outcomes.EVENT_STATUS` (202: accepted, RFC 8935 / RFC 8936).
`Delivery` says how it came: the push request's id, method, host and path, or the
poll's URL. `RecordSink` is what takes it: the decision log and the metrics, as for
a request (`server.state.record_sink`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from authgate.decision import Decision, Outcome
from authgate.decisionlog.record import DecisionRecord
from authgate.outcomes import EVENT_STATUS
from authgate.signals.actions import Applied
from authgate.signals.events import Effect

RecordSink = Callable[[DecisionRecord], None]


@dataclass(frozen=True, slots=True)
class Delivery:
    request_id: str
    method: str
    host: str
    path: str
    client_ip: str = ""

    @classmethod
    def polled(cls, request_id: str, url: str) -> Delivery:
        split = urlsplit(url)
        return cls(request_id, "POLL", split.netloc, split.path or "/")


def event_record(applied: Applied, provider: str, delivery: Delivery, index: int) -> DecisionRecord:
    event = applied.event
    acted = event.effect in (Effect.END, Effect.DOWNGRADE) and applied.sessions > 0
    outcome = Outcome.DENY if acted else Outcome.ALLOW
    decision = Decision(outcome, (applied.reason,), rule=f"signal:{event.name}", status=EVENT_STATUS)
    return DecisionRecord.from_decision(
        decision,
        time=time.time(),
        request_id=f"{delivery.request_id}.{index}",
        method=delivery.method,
        host=delivery.host,
        path=delivery.path,
        client_ip=delivery.client_ip,
        status=decision.status,
        user=event.subject.user if event.subject else None,
        provider=provider,
    )
