"""Grant events as decision records: one per event, in the decision log beside requests.

Contract: `event_record(reason, grant, actor, now=, request_id=)` is the record of one
grant event — `reason` one of the `grant-*` codes, the outcome allow for requested,
approved, activated and break-glass, deny for denied, revoked and expired; `user`
is the actor (who did it), `grant` (`GrantNote`) says which grant, whose, what for,
why, until when. `request_id` ties the event to the request that caused it (the
access page's POST, the admin API's call); the sweeper's expiries carry
`expiry:<grant id>`. Method, host, path and client are those of no request: empty.
"""

from __future__ import annotations

from authgate.access.model import Grant
from authgate.decision import Outcome, Reason
from authgate.decisionlog.record import DecisionRecord, GrantNote
from authgate.outcomes import decided

EVENTS = {
    Reason.GRANT_REQUESTED: "requested",
    Reason.GRANT_APPROVED: "approved",
    Reason.GRANT_ACTIVATED: "activated",
    Reason.GRANT_DENIED: "denied",
    Reason.GRANT_REVOKED: "revoked",
    Reason.GRANT_EXPIRED: "expired",
    Reason.GRANT_BREAK_GLASS: "break-glass",
}
_REFUSING = frozenset({Reason.GRANT_DENIED, Reason.GRANT_REVOKED, Reason.GRANT_EXPIRED})


def note_of(grant: Grant, event: str, actor: str | None) -> GrantNote:
    return GrantNote(
        id=grant.id, entitlement=grant.entitlement, event=event, actor=actor, user=grant.user,
        provider=grant.provider, subject=grant.subject, reason=grant.reason or None,
        ticket=grant.ticket or None, route=grant.route, expires_at=grant.expires_at,
        break_glass=grant.break_glass,
    )  # fmt: skip


def event_record(
    reason: Reason, grant: Grant, actor: str, *, now: float, request_id: str = ""
) -> DecisionRecord:
    outcome = Outcome.DENY if reason in _REFUSING else Outcome.ALLOW
    decision = decided(outcome, reason, route_id=grant.route, rule=f"entitlements.{grant.entitlement}")
    return DecisionRecord.from_decision(
        decision, time=now, request_id=request_id or f"{EVENTS[reason]}:{grant.id}",
        method="", host="", path="", client_ip="", status=decision.status, user=actor,
        provider=None, grant=note_of(grant, EVENTS[reason], actor),
    )  # fmt: skip
