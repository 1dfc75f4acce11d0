"""A clock the tests move by hand, so expiry is tested by advancing time, not sleeping."""

from __future__ import annotations

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: wall-clock magnitudes, as in production


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now
