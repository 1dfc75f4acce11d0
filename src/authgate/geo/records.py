"""Reading one database record into facts, whatever the database's layout.

Contract: each reader takes a decoded record (whatever `maxminddb` returned: a dict,
or anything else for a database we do not understand) and answers only what it can
read with confidence; a field of the wrong type or out of range is left unknown,
never guessed or raised. Layouts are recognised per record, not per file:
- MaxMind City / Country / Enterprise: `country.iso_code`, `city.names.en`,
  `location.{latitude, longitude, accuracy_radius}`;
- the flat layout of the open ip-location-db databases: `country_code`, and in their
  city files `city`, `latitude`, `longitude`;
- ASN (MaxMind GeoLite2-ASN, GeoIP2-ISP, ip-location-db asn):
  `autonomous_system_number`, `autonomous_system_organization`;
- Anonymous-IP: the `is_*` booleans.
`registered_country` (where the network's owner registered it) is deliberately not a
fallback for `country`: it is not where the client is.
Pure module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ISO_COUNTRY = re.compile(r"[A-Za-z]{2}")
# Anonymous-IP layout key -> GeoFacts field.
ANONYMOUS_FLAGS: dict[str, str] = {
    "is_anonymous": "is_anonymous",
    "is_anonymous_vpn": "is_vpn",
    "is_tor_exit_node": "is_tor",
    "is_hosting_provider": "is_hosting",
    "is_public_proxy": "is_public_proxy",
    "is_residential_proxy": "is_residential_proxy",
}


@dataclass(frozen=True, slots=True)
class Place:
    """The location part of a record."""

    country: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_km: float | None = None


def read_place(record: object) -> Place | None:
    """The location in a City / Country / flat record, or None when it holds none."""
    if not isinstance(record, Mapping):
        return None
    if "country_code" in record:
        return _flat_place(record)
    location = _mapping(record.get("location"))
    place = Place(
        country=_country(_mapping(record.get("country")).get("iso_code")),
        city=_name(_mapping(record.get("city")).get("names")),
        latitude=_coordinate(location.get("latitude"), 90.0),
        longitude=_coordinate(location.get("longitude"), 180.0),
        accuracy_km=_accuracy(location.get("accuracy_radius")),
    )
    return None if place == Place() else place


def _flat_place(record: Mapping[str, Any]) -> Place:
    city = record.get("city")
    return Place(
        country=_country(record.get("country_code")),
        city=city if isinstance(city, str) and city else None,
        latitude=_coordinate(record.get("latitude"), 90.0),
        longitude=_coordinate(record.get("longitude"), 180.0),
    )


def read_asn(record: object) -> tuple[int | None, str | None]:
    """(autonomous system number, organization) from an ASN or ISP record."""
    if not isinstance(record, Mapping):
        return None, None
    number = record.get("autonomous_system_number")
    org = record.get("autonomous_system_organization")
    valid_number = isinstance(number, int) and not isinstance(number, bool) and number >= 0
    return (
        number if valid_number else None,
        org if isinstance(org, str) and org else None,
    )


def read_flags(record: object) -> dict[str, bool]:
    """The GeoFacts flags an Anonymous-IP record sets (only the true ones)."""
    if not isinstance(record, Mapping):
        return {}
    # `is True`, not truthiness: a string "false" in a hand-made database is not a flag.
    return {field: True for key, field in ANONYMOUS_FLAGS.items() if record.get(key) is True}


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _country(value: object) -> str | None:
    if isinstance(value, str) and _ISO_COUNTRY.fullmatch(value):
        return value.upper()
    return None


def _name(names: object) -> str | None:
    if not isinstance(names, Mapping):
        return None
    english = names.get("en")
    if isinstance(english, str) and english:
        return english
    return next((v for v in names.values() if isinstance(v, str) and v), None)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _coordinate(value: object, limit: float) -> float | None:
    number = _number(value)
    return number if number is not None and -limit <= number <= limit else None


def _accuracy(value: object) -> float | None:
    number = _number(value)
    return number if number is not None and number >= 0 else None
