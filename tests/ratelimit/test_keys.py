"""Which bucket a request falls in, as a table over personas."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from multidict import CIMultiDict

from authgate.config.schema_limits import RateLimitConfig
from authgate.ratelimit.keys import hashed, ip_part, limit_key, safe_part

ALICE_SESSION = "s3cr3t-session-id-of-alice-0123456789abcdef"
API_KEY = "ak_live_0123456789"


def limit(key: str, name: str | None = None) -> RateLimitConfig:
    return RateLimitConfig.model_validate({"key": key, "rate": "600/m", "burst": 60, "name": name})


def key_for(
    config: RateLimitConfig,
    *,
    client_ip: str = "192.0.2.10",
    user: str | None = None,
    session_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    return limit_key(
        config, route_id="shop", client_ip=client_ip, user=user, session_id=session_id,
        headers=headers or {},
    )  # fmt: skip


# persona -> (limit key, facts) -> expected bucket
TABLE = [
    pytest.param("client_ip", {}, "shop:client_ip-600-per-m:ip:192.0.2.10", id="anonymous-by-ip"),
    pytest.param(
        "user",
        {"user": "alice@example.com", "session_id": ALICE_SESSION},
        "shop:user-600-per-m:user:alice@example.com",
        id="alice-by-user",
    ),
    pytest.param(
        "user", {}, "shop:user-600-per-m:ip:192.0.2.10", id="anonymous-user-falls-back-to-ip"
    ),
    pytest.param(
        "session",
        {"user": "alice@example.com", "session_id": ALICE_SESSION},
        f"shop:session-600-per-m:session:{hashed(ALICE_SESSION)}",
        id="alice-by-session",
    ),
    pytest.param(
        "session", {}, "shop:session-600-per-m:ip:192.0.2.10", id="no-session-falls-back-to-ip"
    ),
    pytest.param(
        "header:X-Api-Key",
        {"headers": {"X-Api-Key": API_KEY}},
        f"shop:header-x-api-key-600-per-m:header:{hashed(API_KEY)}",
        id="api-client-by-header",
    ),
    pytest.param(
        "header:X-Api-Key",
        {"headers": {"x-api-key": API_KEY}},
        f"shop:header-x-api-key-600-per-m:header:{hashed(API_KEY)}",
        id="header-in-other-case",
    ),
    pytest.param(
        "header:X-Api-Key",
        {"headers": {"X-Api-Key": ""}},
        "shop:header-x-api-key-600-per-m:ip:192.0.2.10",
        id="empty-header-falls-back-to-ip",
    ),
    pytest.param(
        "header:X-Api-Key",
        {},
        "shop:header-x-api-key-600-per-m:ip:192.0.2.10",
        id="missing-header-falls-back-to-ip",
    ),
    pytest.param(
        "route", {"user": "alice@example.com"}, "shop:route-600-per-m:route:-", id="whole-route"
    ),
    pytest.param(
        "client_ip",
        {"client_ip": "2001:db8:1:2:aaaa::1"},
        "shop:client_ip-600-per-m:ip:2001:db8:1:2::/64",
        id="ipv6-by-its-64",
    ),
]


@pytest.mark.parametrize(("key", "facts", "bucket"), TABLE)
def test_buckets(key: str, facts: dict[str, object], bucket: str) -> None:
    assert key_for(limit(key), **facts) == bucket  # type: ignore[arg-type]


def test_case_insensitive_mapping_as_aiohttp_gives_it() -> None:
    headers = CIMultiDict({"x-API-key": API_KEY})
    assert key_for(limit("header:X-Api-Key"), headers=headers).endswith(hashed(API_KEY))


def test_a_named_limit_keys_by_its_name() -> None:
    assert key_for(limit("client_ip", name="per-ip")) == "shop:per-ip:ip:192.0.2.10"


def test_an_ipv6_host_cannot_escape_by_rotating_within_its_64() -> None:
    config = limit("client_ip")
    one = key_for(config, client_ip="2001:db8:1:2:aaaa::1")
    other = key_for(config, client_ip="2001:db8:1:2:ffff:ffff:ffff:fffe")
    neighbour = key_for(config, client_ip="2001:db8:1:3::1")
    assert one == other != neighbour


@pytest.mark.parametrize(
    ("address", "part"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("not an address", hashed("not an address")),
    ],
)
def test_ip_part(address: str, part: str) -> None:
    assert ip_part(address) == part


def test_secrets_are_never_stored_in_the_clear() -> None:
    bucket = key_for(limit("session"), session_id=ALICE_SESSION, headers={"X-Api-Key": API_KEY})
    assert ALICE_SESSION not in bucket
    assert API_KEY not in key_for(limit("header:X-Api-Key"), headers={"X-Api-Key": API_KEY})


@pytest.mark.parametrize(
    "user",
    ["a" * 65, "alice smith", "ünïcode", "evil}{tag", "x\r\nSET foo bar", "\udcff"],
)
def test_long_or_unusual_values_are_hashed(user: str) -> None:
    bucket = key_for(limit("user"), user=user)
    assert bucket == f"shop:user-600-per-m:user:{hashed(user)}"
    assert len(bucket) < 80


def test_a_huge_header_makes_a_short_key() -> None:
    huge = {"Authorization": "x" * 100_000}
    assert len(key_for(limit("header:Authorization"), headers=huge)) < 90


def test_no_plain_value_can_name_a_hashed_bucket() -> None:
    # Someone calling themselves after another user's hash must not share that bucket.
    victim = "alice smith"
    assert safe_part(hashed(victim)) != hashed(victim)


def test_plain_values_stay_readable() -> None:
    assert safe_part("alice@example.com") == "alice@example.com"
    assert safe_part("a" * 64) == "a" * 64
