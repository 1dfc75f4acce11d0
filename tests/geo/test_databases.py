"""GeoDatabases on real `.mmdb` files: built here, and MaxMind's published test databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.schema_adaptive import GeoConfig
from authgate.geo.databases import GeoDatabases
from authgate.geo.facts import NO_GEO, GeoError, GeoFacts
from tests.geo.conftest import (
    BAD,
    LONDON_IP,
    MAXMIND,
    NOWHERE_IP,
    PARIS_IP,
    SYDNEY_IP,
    TOKYO_IP6,
    build_mmdb,
)

# ------------------------------------------------------------------ built databases


@pytest.mark.parametrize(
    ("ip", "country", "city", "coordinates"),
    [
        (LONDON_IP, "GB", "London", (51.5074, -0.1278)),
        (PARIS_IP, "FR", "Paris", (48.8566, 2.3522)),
        (SYDNEY_IP, "AU", "Sydney", (-33.8688, 151.2093)),
        (TOKYO_IP6, "JP", "Tokyo", (35.6762, 139.6503)),
        ("::ffff:" + LONDON_IP, "GB", "London", (51.5074, -0.1278)),  # IPv4-mapped
    ],
)
def test_city_layout(
    city_db: Path, ip: str, country: str, city: str, coordinates: tuple[float, float]
) -> None:
    with_city = GeoDatabases({"city": city_db})
    facts = with_city.lookup(ip)
    assert (facts.country, facts.city, facts.coordinates) == (country, city, coordinates)
    assert facts.asn is None and not facts.anonymous_network


def test_accuracy_radius_is_kept(city_db: Path) -> None:
    assert GeoDatabases({"city": city_db}).lookup(SYDNEY_IP).accuracy_km == 50.0


@pytest.mark.parametrize("ip", [NOWHERE_IP, "not-an-ip", "", "999.1.1.1", "fe80::1%eth0"])
def test_unknown_or_invalid_addresses_are_unknown(city_db: Path, ip: str) -> None:
    assert GeoDatabases({"city": city_db}).lookup(ip) == NO_GEO


def test_country_code_layout(country_code_db: Path) -> None:
    geo = GeoDatabases({"country": country_code_db})
    assert geo.lookup(LONDON_IP) == GeoFacts(country="GB")
    assert geo.lookup(TOKYO_IP6) == GeoFacts(country="JP")
    assert geo.lookup(PARIS_IP) == NO_GEO


def test_country_code_layout_works_as_the_city_database_too(country_code_db: Path) -> None:
    assert GeoDatabases({"city": country_code_db}).lookup(SYDNEY_IP) == GeoFacts(country="AU")


def test_city_first_then_country(city_db: Path, country_code_db: Path) -> None:
    geo = GeoDatabases({"city": city_db, "country": country_code_db})
    assert geo.lookup(SYDNEY_IP).city == "Sydney"  # the city database answers
    assert geo.lookup("203.0.113.5") == GeoFacts(country="NZ")  # only the country one knows


def test_country_fills_a_city_record_without_country(tmp_path: Path, country_code_db: Path) -> None:
    records = {"51.0.0.0/8": {"location": {"latitude": 51.5, "longitude": -0.1}}}
    city = build_mmdb(tmp_path / "nocountry.mmdb", records)
    facts = GeoDatabases({"city": city, "country": country_code_db}).lookup(LONDON_IP)
    assert (facts.country, facts.coordinates) == ("GB", (51.5, -0.1))


def test_no_database_answers_nothing() -> None:
    geo = GeoDatabases({})
    assert geo.slots == frozenset() and geo.lookup(LONDON_IP) == NO_GEO


def test_from_config_resolves_relative_paths(city_db: Path) -> None:
    config = GeoConfig(city=city_db.name, reload_interval=5)
    geo = GeoDatabases.from_config(config, base_dir=city_db.parent)
    assert geo.slots == {"city"} and geo.lookup(LONDON_IP).country == "GB"


# ------------------------------------------------------------------ cache


def test_answers_are_cached_per_ip(city_db: Path) -> None:
    geo = GeoDatabases({"city": city_db})
    assert geo.lookup(LONDON_IP) is geo.lookup(LONDON_IP)


def test_cache_is_bounded(city_db: Path) -> None:
    geo = GeoDatabases({"city": city_db}, cache_size=1)
    first = geo.lookup(LONDON_IP)
    geo.lookup(PARIS_IP)  # evicts London
    again = geo.lookup(LONDON_IP)
    assert again == first and again is not first


def test_cache_can_be_off(city_db: Path) -> None:
    geo = GeoDatabases({"city": city_db}, cache_size=0)
    assert geo.lookup(LONDON_IP) == geo.lookup(LONDON_IP)
    assert geo.lookup(LONDON_IP) is not geo.lookup(LONDON_IP)


# ------------------------------------------------------------------ MaxMind's test databases


@pytest.fixture(scope="module")
def maxmind() -> GeoDatabases:
    return GeoDatabases(
        {
            "city": MAXMIND / "GeoLite2-City-Test.mmdb",
            "country": MAXMIND / "GeoLite2-Country-Test.mmdb",
            "asn": MAXMIND / "GeoLite2-ASN-Test.mmdb",
            "anonymous_ip": MAXMIND / "GeoIP2-Anonymous-IP-Test.mmdb",
        }
    )


def test_maxmind_city(maxmind: GeoDatabases) -> None:
    facts = maxmind.lookup("81.2.69.142")
    assert (facts.country, facts.city) == ("GB", "London")
    assert facts.coordinates == (51.5142, -0.0931) and facts.accuracy_km == 10.0


def test_maxmind_city_ipv6(maxmind: GeoDatabases) -> None:
    assert maxmind.lookup("2001:218::1").country == "JP"


def test_maxmind_country_only_database() -> None:
    geo = GeoDatabases({"country": MAXMIND / "GeoLite2-Country-Test.mmdb"})
    assert geo.lookup("81.2.69.142") == GeoFacts(country="GB")
    assert geo.lookup("67.43.156.1") == GeoFacts(country="BT")  # not registered_country (RO)


@pytest.mark.parametrize(
    ("ip", "asn", "org"),
    [
        ("1.128.0.1", 1221, "Telstra Pty Ltd"),
        ("12.81.96.1", 7018, None),  # a record with a number and no organization
        ("2600:6000::1", 237, "Merit Network Inc."),
        ("8.8.4.4", None, None),
    ],
)
def test_maxmind_asn(maxmind: GeoDatabases, ip: str, asn: int | None, org: str | None) -> None:
    facts = maxmind.lookup(ip)
    assert (facts.asn, facts.as_org) == (asn, org)


ANONYMOUS_TABLE = [
    ("1.2.0.1", {"is_anonymous", "is_vpn"}),
    ("1.124.213.1", {"is_anonymous", "is_vpn", "is_tor"}),
    ("6.1.0.2", {"is_anonymous", "is_hosting"}),
    ("6.1.0.3", {"is_anonymous", "is_public_proxy"}),
    ("6.1.0.4", {"is_anonymous", "is_residential_proxy"}),
    ("65.0.0.1", {"is_anonymous", "is_tor"}),
    ("2001:480:3a::1", {"is_anonymous", "is_public_proxy"}),
    ("1.3.0.1", set()),  # in the database, no flag
    ("8.8.8.8", set()),  # not in the database
]
FLAGS = (
    "is_anonymous", "is_vpn", "is_tor", "is_hosting", "is_public_proxy", "is_residential_proxy",
)  # fmt: skip


@pytest.mark.parametrize(("ip", "flags"), ANONYMOUS_TABLE)
def test_maxmind_anonymous_ip(maxmind: GeoDatabases, ip: str, flags: set[str]) -> None:
    facts = maxmind.lookup(ip)
    assert {f for f in FLAGS if getattr(facts, f)} == flags
    assert facts.anonymous_network is bool(flags)


def test_all_four_databases_answer_together(maxmind: GeoDatabases) -> None:
    facts = maxmind.lookup("81.2.69.142")
    assert facts.city == "London" and facts.is_tor and facts.is_vpn and facts.is_hosting


# ------------------------------------------------------------------ errors at start


@pytest.mark.parametrize(
    "name",
    [
        "libmaxminddb-metadata-marker-only.mmdb",  # refused by the reader
        "invalid-data-record-offset.mmdb",  # refused by the reader
        "libmaxminddb-separator-record-max-left.mmdb",  # found by the probe lookups
        "libmaxminddb-oversized-map.mmdb",  # found by the probe lookups
    ],
)
def test_corrupt_database_is_a_clear_error_at_start(name: str) -> None:
    with pytest.raises(GeoError) as caught:
        GeoDatabases({"city": BAD / name})
    assert f"geoip.city: {BAD / name}:" in str(caught.value)


def test_not_a_database_at_all(tmp_path: Path) -> None:
    bogus = tmp_path / "GeoLite2-City.mmdb"
    bogus.write_text("<html>404 Not Found</html>")
    with pytest.raises(GeoError, match=r"geoip.city: .*GeoLite2-City.mmdb: not a readable"):
        GeoDatabases({"city": bogus})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GeoError, match=r"geoip.asn: .*nope.mmdb: no such file"):
        GeoDatabases({"asn": tmp_path / "nope.mmdb"})


@pytest.mark.parametrize(
    ("slot", "name"),
    [
        ("city", "GeoLite2-ASN-Test.mmdb"),
        ("asn", "GeoLite2-City-Test.mmdb"),
        ("anonymous_ip", "GeoLite2-Country-Test.mmdb"),
        ("country", "GeoIP2-Anonymous-IP-Test.mmdb"),
    ],
)
def test_a_maxmind_database_in_the_wrong_slot(slot: str, name: str) -> None:
    with pytest.raises(GeoError, match=f"geoip.{slot}: .*does not belong under `{slot}`"):
        GeoDatabases({slot: MAXMIND / name})  # type: ignore[misc]


def test_every_bad_file_is_named_at_once(tmp_path: Path, city_db: Path) -> None:
    with pytest.raises(GeoError) as caught:
        GeoDatabases(
            {"city": city_db, "asn": tmp_path / "a.mmdb", "anonymous_ip": tmp_path / "b.mmdb"}
        )
    assert "geoip.asn:" in str(caught.value) and "geoip.anonymous_ip:" in str(caught.value)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GeoError, match="geoip.city"):
        GeoDatabases({"city": tmp_path})

