"""One request's running account: the decision, who, and what the client got.

Contract: an `Exchange` is created per request after the facts, updated by each
stage, and turned into exactly one `DecisionRecord` at the end (with the trace id
when the request is traced). The decision stored
here is the one that was enforced: stages replace it (never edit it) when an upstream
fails, so the enforced object and the logged object are the same.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from authgate.decision import Decision, Outcome, Reason
from authgate.decisionlog import DecisionRecord
from authgate.decisionlog.record import GrantNote
from authgate.facts import RequestFacts
from authgate.outcomes import error, status as status_of
from authgate.identity import Identity
from authgate.sessions.model import Session
from authgate.server.adaptive import NOTHING, Adaptive
from authgate.tracing import Trace

# The refusal every request starts with: default deny until a stage decides.
_UNDECIDED = error(Reason.GATEWAY_ERROR)


@dataclass(slots=True)
class Exchange:
    facts: RequestFacts
    decision: Decision = _UNDECIDED
    identity: Identity | None = None
    # The gateway session the request was decided on (None: a bearer token, a public
    # path, nobody): long-lived connections follow it (`continuous.connections`).
    session: Session | None = None
    status: int = 500
    upstream_status: int | None = None
    upstream_started: float = 0.0
    upstream_ended: float = 0.0
    adaptive: Adaptive = NOTHING
    # Added to whatever answer the request gets (RateLimit fields, Retry-After).
    response_headers: dict[str, str] = field(default_factory=dict)
    # Identity headers the route's size budget left out (mutate/header_budget).
    headers_dropped: tuple[str, ...] = ()
    # A return URL (`rd`) was given and refused as unsafe (server/login.py).
    return_url_rejected: bool = False
    # Client headers removed before forwarding (lower-cased, sorted; docs/headers.md).
    stripped: tuple[str, ...] = ()
    # The grant the request was allowed under, or a grant event's (docs/privileged-access.md).
    grant: GrantNote | None = None
    # The request's spans; None while tracing is off (`authgate.tracing`).
    trace: Trace | None = None

    def fail(self, reason: Reason, status: int | None = None) -> Decision:
        """Replace the decision with an error that keeps its route and rule; its
        status is the table's (`outcomes.STATUS`) unless given (`ABORTED_STATUS`)."""
        status = status_of(reason) if status is None else status
        self.decision = dataclasses.replace(
            self.decision, outcome=Outcome.ERROR, reasons=(reason,), status=status
        )
        return self.decision

    def record(self) -> DecisionRecord:
        facts = self.facts
        durations = [("total", time.monotonic() - facts.started)]
        if self.upstream_started:
            durations.append(("upstream", self.upstream_ended - self.upstream_started))
        identity = self.identity
        return DecisionRecord.from_decision(
            self.decision,
            time=facts.time,
            request_id=facts.request_id,
            trace_id=self.trace.trace_id if self.trace is not None else None,
            method=facts.method,
            host=facts.host,
            path=facts.path or facts.raw_target,
            client_ip=facts.client_ip,
            status=self.status,
            upstream_status=self.upstream_status,
            durations=tuple(durations),
            user=identity.user if identity else None,
            provider=identity.provider if identity else None,
            country=self.adaptive.context.country,
            device=self.adaptive.device.key if self.adaptive.device else None,
            risk=self.adaptive.assessment.score if self.adaptive.assessment else None,
            signals=self.adaptive.assessment.codes if self.adaptive.assessment else (),
            headers_dropped=self.headers_dropped,
            return_url_rejected=self.return_url_rejected,
            stripped=self.stripped,
            grant=self.grant,
            identity=identity,
        )
