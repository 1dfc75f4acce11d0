"""Reading one record, whatever its layout: a table of shapes, good and bad (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from authgate.geo.records import Place, read_asn, read_flags, read_place

LONDON = {"latitude": 51.5, "longitude": -0.1, "accuracy_radius": 20}


@pytest.mark.parametrize(
    ("record", "place"),
    [
        # MaxMind City
        (
            {
                "country": {"iso_code": "GB"},
                "city": {"names": {"en": "London"}},
                "location": LONDON,
            },
            Place("GB", "London", 51.5, -0.1, 20.0),
        ),
        # MaxMind Country: no city, no location
        ({"country": {"iso_code": "de"}}, Place(country="DE")),
        # a city name only in another language
        ({"city": {"names": {"fr": "Londres"}}}, Place(city="Londres")),
        # flat layouts of the open databases
        ({"country_code": "US"}, Place(country="US")),
        (
            {"country_code": "FR", "city": "Paris", "latitude": 48.85, "longitude": 2.35},
            Place("FR", "Paris", 48.85, 2.35),
        ),
        # registered_country is where the owner registered, not where the client is
        ({"registered_country": {"iso_code": "US"}}, None),
        # bad shapes: left unknown, never raised
        ({"country": {"iso_code": "GBR"}}, None),
        ({"country": {"iso_code": 826}}, None),
        ({"country": "GB"}, None),
        ({"country_code": "XYZ"}, Place()),
        ({"location": {"latitude": 91.0, "longitude": 0.0}}, Place(longitude=0.0)),
        ({"location": {"latitude": "51.5", "longitude": True}}, None),
        ({"location": {"latitude": float("nan"), "longitude": float("inf")}}, None),
        ({"location": {"accuracy_radius": -5}}, None),
        ({}, None),
        (None, None),
        ("GB", None),
        ([{"country_code": "GB"}], None),
    ],
)
def test_read_place(record: Any, place: Place | None) -> None:
    assert read_place(record) == place


@pytest.mark.parametrize(
    ("record", "answer"),
    [
        (
            {"autonomous_system_number": 15169, "autonomous_system_organization": "Google"},
            (15169, "Google"),
        ),
        ({"autonomous_system_number": 7018}, (7018, None)),
        ({"autonomous_system_number": "7018", "autonomous_system_organization": ""}, (None, None)),
        ({"autonomous_system_number": True}, (None, None)),
        ({"autonomous_system_number": -1}, (None, None)),
        (None, (None, None)),
    ],
)
def test_read_asn(record: Any, answer: tuple[int | None, str | None]) -> None:
    assert read_asn(record) == answer


@pytest.mark.parametrize(
    ("record", "flags"),
    [
        ({"is_anonymous": True, "is_anonymous_vpn": True}, {"is_anonymous": True, "is_vpn": True}),
        ({"is_tor_exit_node": True, "is_hosting_provider": False}, {"is_tor": True}),
        ({"is_public_proxy": "true", "is_residential_proxy": 1}, {}),  # only real booleans
        ({}, {}),
        (None, {}),
    ],
)
def test_read_flags(record: Any, flags: dict[str, bool]) -> None:
    assert read_flags(record) == flags
