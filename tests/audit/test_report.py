"""`AccessReport` and its renderings on lines written for the test."""

from __future__ import annotations

import csv
import io
import json

from authgate.reports.access import AccessReport, Window, parse_time
from authgate.reports.render import render


def _line(at: str, user: str | None, route: str, decision: str, reason: str,
          grant: str | None = None) -> str:
    fields = {"time": at, "user": user, "route": route, "decision": decision, "reason": reason}
    if grant:
        fields["grant_id"] = grant
    return json.dumps(fields)


LINES = [
    _line("2026-12-01T09:00:00.000Z", "alice", "db", "allow", "entitlement-ok", "g-1"),
    _line("2026-12-01T10:00:00.000Z", "alice", "db", "allow", "entitlement-ok", "g-2"),
    _line("2026-12-02T09:00:00.000Z", "alice", "db", "deny", "entitlement-missing"),
    _line("2026-12-02T09:30:00.000Z", "alice", "db", "step_up", "step-up-required"),
    _line("2026-12-03T08:00:00.000Z", "=cmd|' /C calc'!A0", "db", "deny", "policy-no-match"),
    _line("2026-12-03T08:00:01.000Z", None, "web", "rate_limited", "rate-limited"),
    '{"event":"audit-checkpoint","time":"2026-12-03T08:00:02.000Z","kind":"idle"}',
    "not json at all",
]


def test_counts_per_user_and_route_and_grants_used() -> None:
    report = AccessReport.from_lines(LINES, Window())
    alice = report.rows[("alice", "db")].as_dict()
    assert (alice["allowed"], alice["denied"], alice["step_ups"]) == (2, 1, 1)
    assert alice["grants"] == ["g-1", "g-2"]
    assert alice["first"] == "2026-12-01T09:00:00.000Z" and alice["last"] == "2026-12-02T09:30:00.000Z"
    assert alice["denials_by_reason"] == {"entitlement-missing": 1}
    assert report.rows[("-", "web")].rate_limited == 1
    assert report.skipped == 1 and len(report.rows) == 3  # the checkpoint is not a request
    assert report.totals()["denied"] == 2


def test_the_window_filters_by_time_user_and_route() -> None:
    window = Window(start=parse_time("2026-12-02"), end=parse_time("2026-12-03"), user="alice")
    report = AccessReport.from_lines(LINES, window)
    [row] = report.rows.values()
    assert (row.allowed, row.denied, row.step_ups) == (0, 1, 1)
    assert AccessReport.from_lines(LINES, Window(route="web")).totals()["rate_limited"] == 1


def test_csv_defuses_formulas_and_html_escapes_what_the_log_holds() -> None:
    report = AccessReport.from_lines(LINES, Window())
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    users = {row["user"] for row in rows}
    assert users == {"-", "alice", "'=cmd|' /C calc'!A0"}  # the formula is not run
    page = render(report, "html")
    assert "=cmd|&#x27; /C calc&#x27;!A0" in page and "<script" not in page
    assert page.count("<rect") >= 3  # the day bars and the reason bars
    assert json.loads(render(report, "json"))["per_day"]["2026-12-01"] == {"allow": 2}
