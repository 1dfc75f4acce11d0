"""Fixtures of the geo tests: real `.mmdb` files, built here or published by MaxMind.

`build_mmdb(path, records, database_type=...)` writes a MaxMind DB file with
`mmdb-writer` (an IPv6 tree that also holds IPv4, as MaxMind's own files do).
`CITY_RECORDS` are City-layout records; `COUNTRY_CODE_RECORDS` the flat
`{"country_code": ...}` layout of the open ip-location-db databases. `MAXMIND` is the
folder of MaxMind's test databases vendored in `data/maxmind/` (see its README).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

MAXMIND = Path(__file__).parent / "data" / "maxmind"
BAD = MAXMIND / "bad-data"

LONDON_IP, PARIS_IP, SYDNEY_IP, TOKYO_IP6 = "51.1.2.3", "2.1.2.3", "1.40.2.3", "2001:db8:1::7"
NOWHERE_IP = "198.51.100.9"  # in no database


def _city(country: str, city: str, lat: float, lon: float, accuracy: int) -> dict[str, Any]:
    return {
        "country": {"iso_code": country, "names": {"en": country}},
        "city": {"names": {"en": city, "fr": city + "-fr"}},
        # Floats stay floats (48.0, not 48): the writer picks the MMDB type by Python type.
        "location": {"latitude": lat, "longitude": lon, "accuracy_radius": accuracy},
    }


CITY_RECORDS: dict[str, dict[str, Any]] = {
    "51.0.0.0/8": _city("GB", "London", 51.5074, -0.1278, 20),
    "2.0.0.0/12": _city("FR", "Paris", 48.8566, 2.3522, 20),
    "1.40.0.0/13": _city("AU", "Sydney", -33.8688, 151.2093, 50),
    "2001:db8:1::/48": _city("JP", "Tokyo", 35.6762, 139.6503, 100),
}
COUNTRY_CODE_RECORDS: dict[str, dict[str, Any]] = {
    "51.0.0.0/8": {"country_code": "GB"},
    "1.40.0.0/13": {"country_code": "AU"},
    "203.0.113.0/24": {"country_code": "NZ"},  # not in the city records
    "2001:db8:1::/48": {"country_code": "JP"},
}


def build_mmdb(
    path: Path, records: Mapping[str, Mapping[str, Any]], *, database_type: str = "GeoLite2-City"
) -> Path:
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description="authgate test database",
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), dict(record))
    tmp = path.with_suffix(".tmp")
    writer.to_db_file(str(tmp))
    tmp.replace(path)  # as geoipupdate does: readers never see a half-written file
    return path


Builder = Callable[..., Path]


@pytest.fixture
def city_db(tmp_path: Path) -> Path:
    return build_mmdb(tmp_path / "city.mmdb", CITY_RECORDS)


@pytest.fixture
def country_code_db(tmp_path: Path) -> Path:
    return build_mmdb(
        tmp_path / "country.mmdb", COUNTRY_CODE_RECORDS, database_type="iptoasn-country"
    )
