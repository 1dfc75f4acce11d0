"""`time`: a weekly window — days and/or hours — in a named time zone.

Contract: `{days: [mon, fri], hours: "09:00-18:00", tz: Europe/Paris}` holds when
the request's wall-clock time in that zone (IANA database through `zoneinfo`, so
daylight saving time is followed) is on a listed day and in `[start, end)`. Without
`days`, every day; without `hours`, the whole day. `24:00` is allowed as an end.
A window whose end is before its start runs over midnight (`22:00-06:00`); its
hours after midnight belong to the day it STARTED on, so `days: [fri]` with
`22:00-06:00` holds on Saturday 02:00 and not on Friday 02:00. Compile errors:
an unknown zone, hours not `HH:MM-HH:MM`, an empty window (`09:00-09:00`).
Pure module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
_DAY_MINUTES = 24 * 60


def compile_zone(name: str) -> tzinfo:
    """The IANA zone `name`; raises ValueError for an unknown or unsafe name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, e.g. 'Europe'
        raise ValueError(
            f"unknown time zone {name!r} (write an IANA name like Europe/Paris)"
        ) from None


def compile_hours(text: str) -> tuple[int, int]:
    """`"09:00-18:00"` -> minutes since midnight `(540, 1080)`; raises ValueError."""
    found = _HOURS.fullmatch(text.replace(" ", ""))
    if found is None:
        raise ValueError(f"not an hour range: {text!r} (write HH:MM-HH:MM, e.g. 09:00-18:00)")
    sh, sm, eh, em = (int(part) for part in found.groups())
    start, end = sh * 60 + sm, eh * 60 + em
    if sh > 23 or sm > 59 or em > 59 or end > _DAY_MINUTES:
        raise ValueError(
            f"not an hour range: {text!r} (hours 00-23, minutes 00-59; end may be 24:00)"
        )
    if start == end:
        raise ValueError(f"an empty window: {text!r} (leave hours out for the whole day)")
    return start, end


@dataclass(frozen=True, slots=True)
class TimeWindow:
    path: str
    out: Outcomes
    days: frozenset[int] | None  # Monday = 0, as datetime.weekday(); None = every day
    hours: tuple[int, int] | None  # minutes since midnight, end exclusive
    zone: tzinfo

    def check(self, inp: PolicyInput) -> Verdict:
        local = datetime.fromtimestamp(inp.now, self.zone)
        return self.out.yes if self._covers(local) else self.out.no

    def _covers(self, local: datetime) -> bool:
        day = local.weekday()
        if self.hours is None:
            return self._on(day)
        start, end = self.hours
        minute = local.hour * 60 + local.minute
        if start < end:
            return start <= minute < end and self._on(day)
        if minute >= start:
            return self._on(day)
        return minute < end and self._on((day - 1) % 7)  # started the day before

    def _on(self, day: int) -> bool:
        return self.days is None or day in self.days
