"""The stored field map: round trips, damage, pruning, and when a write is worth it (pure)."""

from __future__ import annotations

import pytest

from authgate.risk.history import worth_recording
from authgate.risk.history_codec import (
    Limits,
    allowed_fields,
    decode_ack,
    decode_location,
    encode_ack,
    encode_location,
    history_from_fields,
    prune,
    session_hash,
)
from authgate.risk.model import History, Location
from authgate.risk.signal import Signal

NOW = 1_767_780_000.0
LIMITS = Limits(ttl=1000.0, max_devices=2, max_countries=2, max_acknowledgements=1)


@pytest.mark.parametrize(
    "location",
    [
        Location(NOW, "GB", 51.5074, -0.1278, 20.0),
        Location(NOW + 0.25, "AU"),
        Location(NOW, None, 1e-7, -179.999999, None),
    ],
)
def test_location_round_trip(location: Location) -> None:
    assert decode_location(encode_location(location)) == location


@pytest.mark.parametrize("text", ["", "x|GB|1|2|3", "1|GB|1|2", "1|GB|nan|2|3|4", "inf|GB||||"])
def test_damaged_locations_are_unknown(text: str) -> None:
    location = decode_location(text)
    assert location is None or location.latitude is None


def test_ack_round_trip_skips_unknown_codes() -> None:
    signals = {Signal.NEW_DEVICE, Signal.OUTSIDE_HOURS}
    assert decode_ack(encode_ack(signals, NOW)) == (NOW, frozenset(signals))
    assert decode_ack(f"{NOW}|new-device,retired-signal") == (NOW, {Signal.NEW_DEVICE})
    assert decode_ack("soon|new-device") is None


def test_session_hash_hides_the_id() -> None:
    assert "secret-session" not in session_hash("secret-session")
    assert len(session_hash("x")) == 32


def test_history_from_fields() -> None:
    fields = {
        **allowed_fields(Location(NOW - 10, "GB", 51.5, -0.1), "dev-1", NOW - 10),
        "d:ancient": repr(NOW - 5000),
        "c:XX": "garbage",
        "a:" + session_hash("s"): encode_ack([Signal.NEW_DEVICE], NOW + 60),
        "unknown-field": "ignored",
    }
    history = history_from_fields(fields, NOW, 1000.0, session_hash("s"))
    assert history == History(
        last_location=Location(NOW - 10, "GB", 51.5, -0.1),
        devices=frozenset({"dev-1"}),
        countries=frozenset({"GB"}),
        recorded_at=NOW - 10,
        acknowledged=frozenset({Signal.NEW_DEVICE}),
    )


def test_prune_expires_then_caps() -> None:
    fields = {
        "loc": "kept",
        "d:old": repr(NOW - 2000),  # past the TTL
        "d:a": repr(NOW - 30),
        "d:b": repr(NOW - 20),
        "d:c": repr(NOW - 10),  # max_devices = 2: a goes
        "c:GB": "not-a-time",
        "a:1": encode_ack([], NOW - 1),  # ended
        "a:2": encode_ack([], NOW + 10),
        "a:3": encode_ack([], NOW + 20),  # max_acknowledgements = 1: 2 goes
    }
    prune(fields, NOW, LIMITS)
    assert set(fields) == {"loc", "d:b", "d:c", "a:3"}


BASE = History(
    last_location=Location(NOW - 60, "GB", 51.5, -0.1),
    devices=frozenset({"laptop"}),
    countries=frozenset({"GB"}),
    recorded_at=NOW - 60,
)


@pytest.mark.parametrize(
    ("history", "location", "device", "worth"),
    [
        (BASE, Location(NOW, "GB", 51.5, -0.1), "laptop", False),  # nothing new
        (BASE, None, "laptop", False),
        (BASE, None, None, False),
        (BASE, Location(NOW, "GB", 51.5, -0.1), "phone", True),  # new device
        (BASE, Location(NOW, "FR", 48.8, 2.3), "laptop", True),  # new country
        (BASE, Location(NOW, "GB", 53.4, -2.2), "laptop", True),  # moved within GB
        (History(), None, None, True),  # never recorded
        (History(recorded_at=NOW - 300), None, None, True),  # the interval has passed
    ],
)
def test_worth_recording(
    history: History, location: Location | None, device: str | None, worth: bool
) -> None:
    assert worth_recording(history, location, device, NOW) is worth
