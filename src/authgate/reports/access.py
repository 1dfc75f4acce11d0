"""Access facts per user and route, counted from decision log lines.

Contract: `AccessReport.from_lines(lines, window)` reads decision-log JSON lines (any
mix: records, checkpoints, drop notices, grant events) and counts, per (user, route),
first and last access, allowed / denied / step-up / rate-limited / error decisions,
sign-ins (the login callback, decided `allow` with `login-completed`, is counted as a
sign-in, not an access) and login prompts, the grants the requests were decided under
(`grant_id`), and denials by their reason (the record's whole reason list).
Only lines with a `decision` and a `time` are requests; the rest are skipped, as are
lines that are not JSON (a report is not an integrity check: `authgate audit verify`
is). `Window` filters by time (`from` inclusive, `to` exclusive), user and route.
Requests of no one signed in count under the user `-`. Pure module.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

ANONYMOUS = "-"
_COUNTED = {"allow": "allowed", "deny": "denied", "step_up": "step_ups",
            "login": "login_prompts", "rate_limited": "rate_limited", "error": "errors"}
# The callback that completes a login is decided `allow`; it is a sign-in, not an access.
_SIGN_IN = "login-completed"


def parse_time(text: str) -> float:
    """RFC 3339 (`2026-12-04T10:00:00.123Z`) or a date (`2026-12-04`, midnight UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class Window:
    start: float | None = None
    end: float | None = None
    user: str | None = None
    route: str | None = None

    def admits(self, at: float, user: str, route: str) -> bool:
        return (
            (self.start is None or at >= self.start)
            and (self.end is None or at < self.end)
            and (self.user is None or user == self.user)
            and (self.route is None or route == self.route)
        )


@dataclass(slots=True)
class AccessRow:
    user: str
    route: str
    first: float
    last: float
    allowed: int = 0
    denied: int = 0
    step_ups: int = 0
    sign_ins: int = 0
    login_prompts: int = 0
    rate_limited: int = 0
    errors: int = 0
    grants: set[str] = field(default_factory=set)
    denials: Counter[str] = field(default_factory=Counter)

    def count(self, at: float, decision: str, reason: str, grant: str | None) -> None:
        self.first, self.last = min(self.first, at), max(self.last, at)
        attribute = "sign_ins" if reason == _SIGN_IN else _COUNTED.get(decision)
        if attribute is not None:
            setattr(self, attribute, getattr(self, attribute) + 1)
        if decision == "deny":
            self.denials[reason] += 1
        if grant:
            self.grants.add(grant)

    def as_dict(self) -> dict[str, object]:
        return {
            "user": self.user, "route": self.route,
            "first": iso_time(self.first), "last": iso_time(self.last),
            "allowed": self.allowed, "denied": self.denied, "step_ups": self.step_ups,
            "sign_ins": self.sign_ins, "login_prompts": self.login_prompts, "rate_limited": self.rate_limited, "errors": self.errors,
            "grants": sorted(self.grants), "denials_by_reason": dict(sorted(self.denials.items())),
        }


@dataclass(slots=True)
class AccessReport:
    window: Window
    rows: dict[tuple[str, str], AccessRow] = field(default_factory=dict)
    per_day: dict[str, Counter[str]] = field(default_factory=dict)  # day -> decision -> n
    skipped: int = 0  # lines that were not JSON

    @classmethod
    def from_lines(cls, lines: Iterable[str], window: Window) -> AccessReport:
        report = cls(window)
        for line in lines:
            report.add_line(line)
        return report

    def add_line(self, line: str) -> None:
        try:
            fields = json.loads(line)
        except ValueError:
            self.skipped += 1
            return
        if not isinstance(fields, dict):
            self.skipped += 1
            return
        decision, stamp = fields.get("decision"), fields.get("time")
        if not isinstance(decision, str) or not isinstance(stamp, str):
            return  # a checkpoint, a drop notice, a grant event: not a request
        at = parse_time(stamp)
        user = fields.get("user") or ANONYMOUS
        route = fields.get("route") or ANONYMOUS
        if not (isinstance(user, str) and isinstance(route, str)):
            return
        if not self.window.admits(at, user, route):
            return
        if _grant_event(fields):
            return  # requested, approved, revoked...: a record of its own, not an access
        row = self.rows.get((user, route))
        if row is None:
            row = self.rows[(user, route)] = AccessRow(user, route, at, at)
        grant = _grant_used(fields)
        row.count(at, decision, str(fields.get("reason", "")), grant if isinstance(grant, str) else None)
        self.per_day.setdefault(iso_time(at)[:10], Counter())[decision] += 1

    def sorted_rows(self) -> list[AccessRow]:
        return [self.rows[key] for key in sorted(self.rows)]

    def denials(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for row in self.rows.values():
            total.update(row.denials)
        return total

    def totals(self) -> dict[str, int]:
        sums = {name: 0 for name in (*_COUNTED.values(), "sign_ins")}
        for row in self.rows.values():
            for name in sums:
                sums[name] += getattr(row, name)
        return sums


def iso_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _grant_event(fields: dict[str, object]) -> bool:
    """A grant's own event record (docs/privileged-access.md), not a request under it."""
    note = fields.get("grant")
    return isinstance(note, dict) and note.get("event") != "used"


def _grant_used(fields: dict[str, object]) -> str | None:
    """The id of the grant the request was decided under (`grant.id`, or `grant_id`)."""
    note = fields.get("grant")
    found = note.get("id") if isinstance(note, dict) else fields.get("grant_id")
    return found if isinstance(found, str) else None
