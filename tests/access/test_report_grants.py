"""`authgate report` over real grant records: requests under a grant count it, grant
events (their own records) are not accesses."""

from __future__ import annotations

from authgate.access.records import event_record
from authgate.decision import Decision, Outcome, Reason
from authgate.decisionlog.record import DecisionRecord, GrantNote
from authgate.reports.access import AccessReport, Window
from tests.access.conftest import requested
from tests.testbed.clock import FakeClock


def request_line(clock: FakeClock, grant: GrantNote | None, allowed: bool) -> str:
    decision = Decision(
        Outcome.ALLOW if allowed else Outcome.DENY,
        (Reason.ENTITLEMENT_OK,) if allowed else (Reason.POLICY_NO_MATCH, Reason.ENTITLEMENT_REQUIRED),
        route_id="db", status=200 if allowed else 403,
    )  # fmt: skip
    return DecisionRecord.from_decision(
        decision, time=clock.advance(1), request_id="r", method="GET", host="db.example", path="/",
        client_ip="10.0.0.1", status=decision.status, user="bob", provider="corp", grant=grant,
    ).to_json()  # fmt: skip


def test_grants_used_are_counted_and_events_are_not_accesses() -> None:
    clock = FakeClock()
    grant = requested(clock).activated(clock.now, "alice")
    events = [
        event_record(reason, grant, actor, now=clock.now).to_json()
        for reason, actor in ((Reason.GRANT_REQUESTED, "bob"), (Reason.GRANT_APPROVED, "alice"),
                              (Reason.GRANT_ACTIVATED, "alice"), (Reason.GRANT_EXPIRED, "gateway"))
    ]  # fmt: skip
    used = GrantNote(id=grant.id, entitlement="db-admin", event="used")
    lines = [events[0], events[1], events[2], request_line(clock, used, True), request_line(clock, used, True),
             events[3], request_line(clock, None, False)]  # fmt: skip
    report = AccessReport.from_lines(lines, Window())
    assert set(report.rows) == {("bob", "db")}  # no row for alice's or the gateway's events
    bob = report.rows[("bob", "db")].as_dict()
    assert (bob["allowed"], bob["denied"], bob["grants"]) == (2, 1, [grant.id])
