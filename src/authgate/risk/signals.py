"""Which risk signals a request raises, from its facts, its user's history and the rules.

Contract: `signals(...)` is pure and deterministic: the same inputs give the same
signals, in `Signal`'s declaration order, without the ones `history.acknowledged`
holds (a step-up cleared them for this session). Unknown is never risky by itself:
no geo, no device id or no client IP raises nothing about them — a route that needs
a device or a country says so in its policy, not through the score.

- `new-device`: the device id is not among the user's known devices, and the user has
  some (the first device seen becomes the baseline: a first login is not "new").
- `new-country`: likewise for countries.
- `impossible-travel`: the great-circle distance from the last location, less both
  points' accuracy radius (GeoIP coordinates are areas, not points), over the time
  since, is above `max_speed_kmh`. Times under a second count as one second.
- `anonymous-network`: the Anonymous-IP database lists the address (VPN, Tor, hosting,
  public or residential proxy).
- `ip-reputation`: the client IP is in the route's reputation CIDRs.
- `failed-logins`: at least `failed_logins` recent failures.
- `outside-hours`: `now` is outside the route's working-hours window.
Pure module.
"""

from __future__ import annotations

import math

from authgate.geo.facts import GeoFacts
from authgate.risk.model import History, Location
from authgate.risk.rules import RiskRules
from authgate.risk.signal import Signal

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def signals(
    now: float,
    geo: GeoFacts | None,
    device_id: str | None,
    history: History,
    rules: RiskRules,
    *,
    client_ip: str | None,
) -> tuple[Signal, ...]:
    raised = {
        Signal.NEW_DEVICE: _unseen(device_id, history.devices),
        Signal.NEW_COUNTRY: _unseen(geo.country if geo else None, history.countries),
        Signal.IMPOSSIBLE_TRAVEL: _impossible_travel(now, geo, history.last_location, rules),
        Signal.ANONYMOUS_NETWORK: geo is not None and geo.anonymous_network,
        Signal.IP_REPUTATION: client_ip is not None and rules.reputation.contains(client_ip),
        Signal.FAILED_LOGINS: history.failed_logins >= rules.failed_logins,
        Signal.OUTSIDE_HOURS: _outside_hours(now, rules),
    }
    return tuple(s for s, on in raised.items() if on and s not in history.acknowledged)


def _unseen(value: str | None, known: frozenset[str]) -> bool:
    return value is not None and bool(known) and value not in known


def _outside_hours(now: float, rules: RiskRules) -> bool:
    return rules.working_hours is not None and not rules.working_hours.contains(now)


def _impossible_travel(
    now: float, geo: GeoFacts | None, last: Location | None, rules: RiskRules
) -> bool:
    if geo is None or last is None:
        return False
    speed = _speed(last, geo.latitude, geo.longitude, geo.accuracy_km, now)
    return speed is not None and speed > rules.max_speed_kmh


def travel_speed_kmh(start: Location, end: Location) -> float | None:
    """The least speed that explains both locations, or None without coordinates."""
    return _speed(start, end.latitude, end.longitude, end.accuracy_km, end.at)


def _speed(
    start: Location, lat: float | None, lon: float | None, accuracy: float | None, at: float
) -> float | None:
    if start.latitude is None or start.longitude is None or lat is None or lon is None:
        return None
    if start.latitude == lat and start.longitude == lon:
        return 0.0  # the same database point: most requests, so no trigonometry
    distance = great_circle_km((start.latitude, start.longitude), (lat, lon))
    distance -= (start.accuracy_km or 0.0) + (accuracy or 0.0)
    if distance <= 0:
        return 0.0
    # A clock stepping back, or two requests in the same second, count as one second.
    hours = max(at - start.at, 1.0) / 3600.0
    return distance / hours


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two (latitude, longitude) points, in km."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
