"""time: days and hours in an IANA zone, across time zones, DST and midnight."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.policy.personas import NOW, alice_admin, policy, request, run


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def allowed(window: dict[str, Any], now: float) -> bool:
    return run(policy(allow=[{"time": window}]), request(alice_admin, now=now)).allowed


OFFICE = {"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-18:00", "tz": "Europe/Paris"}
NIGHT = {"days": ["fri"], "hours": "22:00-06:00", "tz": "America/New_York"}


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        # NOW is Monday 10:00 UTC = 11:00 in Paris
        ({"hours": "09:00-10:30", "tz": "Europe/Paris"}, NOW, False),
        ({"hours": "09:00-10:30", "tz": "UTC"}, NOW, True),
        ({"hours": "09:00-10:30"}, NOW, True),  # UTC by default
        # the zone decides the day: Monday 10:00 UTC is still Sunday in Pago Pago (UTC-11)...
        ({"days": ["sun"], "tz": "Pacific/Pago_Pago"}, NOW, True),
        ({"days": ["mon"], "tz": "Pacific/Pago_Pago"}, NOW, False),
        # ... and Monday 23:00 in Auckland
        ({"days": ["mon"], "tz": "Pacific/Auckland"}, NOW, True),
        # end exclusive, start inclusive
        (OFFICE, at("Europe/Paris", 2026, 3, 2, 9, 0), True),
        (OFFICE, at("Europe/Paris", 2026, 3, 2, 8, 59), False),
        (OFFICE, at("Europe/Paris", 2026, 3, 2, 17, 59), True),
        (OFFICE, at("Europe/Paris", 2026, 3, 2, 18, 0), False),
        (OFFICE, at("Europe/Paris", 2026, 3, 7, 11, 0), False),  # Saturday
        # daylight saving time: 07:30 UTC is 08:30 in winter, 09:30 in summer
        (OFFICE, at("UTC", 2026, 1, 5, 7, 30), False),
        (OFFICE, at("UTC", 2026, 7, 6, 7, 30), True),
        # a window over midnight belongs to the day it starts on (Friday night)
        (NIGHT, at("America/New_York", 2026, 3, 6, 23, 0), True),  # Friday 23:00
        (NIGHT, at("America/New_York", 2026, 3, 7, 2, 0), True),  # Saturday 02:00
        (NIGHT, at("America/New_York", 2026, 3, 7, 6, 0), False),  # Saturday 06:00
        (NIGHT, at("America/New_York", 2026, 3, 6, 2, 0), False),  # Friday 02:00: Thursday's
        (NIGHT, at("America/New_York", 2026, 3, 7, 23, 0), False),  # Saturday 23:00
        (NIGHT, at("America/New_York", 2026, 3, 6, 12, 0), False),  # Friday noon
        # the same instant, Saturday 04:00 UTC = Friday 23:00 in New York
        (NIGHT, at("UTC", 2026, 3, 7, 4, 0), True),
        # 24:00 closes the day
        ({"hours": "20:00-24:00"}, at("UTC", 2026, 3, 2, 23, 59), True),
        ({"hours": "20:00-24:00"}, at("UTC", 2026, 3, 3, 0, 0), False),
        # hours without days: every day
        ({"hours": "22:00-02:00"}, at("UTC", 2026, 3, 8, 1, 0), True),
        ({"days": ["Sat", "SUN"]}, at("UTC", 2026, 3, 8, 1, 0), True),  # day names any case
    ],
)
def test_time_window(window: dict[str, Any], now: float, expected: bool) -> None:
    assert allowed(window, now) is expected
