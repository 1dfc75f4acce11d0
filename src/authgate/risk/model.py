"""What the history store remembers about a user, as plain values.

Contract: `History` is what `HistoryStore.get` answers and `signals()` reads: the last
location of an allowed request, the devices and countries seen within the history
TTL, recent failed logins, when the store last recorded an allowed request, and the
signals a step-up acknowledged for the session asking. `Location` is one point in
that history. Both frozen. Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate.geo.facts import GeoFacts
from authgate.risk.signal import Signal


@dataclass(frozen=True, slots=True)
class Location:
    """Where an allowed request came from, and when."""

    at: float  # epoch seconds
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_km: float | None = None

    @classmethod
    def from_geo(cls, geo: GeoFacts | None, at: float) -> Location | None:
        """The location in `geo`, or None when the databases placed it nowhere."""
        if geo is None or (geo.country is None and geo.coordinates is None):
            return None
        return cls(at, geo.country, geo.latitude, geo.longitude, geo.accuracy_km)

    @property
    def coordinates(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


@dataclass(frozen=True, slots=True)
class History:
    last_location: Location | None = None
    devices: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    failed_logins: int = 0  # within the store's failed-login window
    recorded_at: float | None = None  # when an allowed request was last recorded
    # Signals a successful step-up cleared for the session that asked (see history.py).
    acknowledged: frozenset[Signal] = frozenset()


NO_HISTORY = History()
