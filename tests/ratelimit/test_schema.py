"""The `rate_limit` / `on_store_error` route keys and the `limits:` block."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from authgate.config.schema import RouteConfig
from authgate.config.schema_limits import (
    LimitsConfig,
    Rate,
    RateLimitConfig,
    parse_rate,
)


def route(**limits: Any) -> RouteConfig:
    return RouteConfig.model_validate(
        {"id": "shop", "match": {"host": "shop.example.com"}, "upstream": "http://10.0.0.1"}
        | limits
    )


@pytest.mark.parametrize(
    ("written", "rate"),
    [
        ("600/m", Rate(600, 60, "m")),
        ("50/s", Rate(50, 1, "s")),
        (" 10 / h ", Rate(10, 3600, "h")),
        ("1000/d", Rate(1000, 86400, "d")),
    ],
)
def test_rates(written: str, rate: Rate) -> None:
    assert parse_rate(written) == rate
    assert str(rate) == written.replace(" ", "")


@pytest.mark.parametrize("bad", ["600", "600/min", "0/s", "-1/s", "1.5/s", "/m", 600, None])
def test_bad_rates(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_rate(bad)


def test_a_single_mapping_is_one_limit() -> None:
    config = route(rate_limit={"key": "user", "rate": "600/m", "burst": 60})
    assert [limit.policy_name for limit in config.rate_limit] == ["user-600-per-m"]
    assert config.rate_limit[0].rate.per_second == 10
    assert config.on_store_error == "open"


def test_several_limits_and_closed_store_errors() -> None:
    config = route(
        rate_limit=[
            {"key": "client_ip", "rate": "50/s", "burst": 100},
            {"key": "client_ip", "rate": "1000/h", "burst": 100, "name": "hourly"},
            {"key": "header:X-Api-Key", "rate": "10/s", "burst": 1, "headers": False},
        ],
        on_store_error="closed",
    )
    names = [limit.policy_name for limit in config.rate_limit]
    assert names == ["client_ip-50-per-s", "hourly", "header-x-api-key-10-per-s"]
    assert config.on_store_error == "closed"


def test_no_limits_by_default() -> None:
    assert route().rate_limit == []


@pytest.mark.parametrize(
    ("limit", "wrong"),
    [
        ({"key": "ip", "rate": "1/s", "burst": 1}, "key"),
        ({"key": "header:", "rate": "1/s", "burst": 1}, "key"),
        ({"key": "header:X Y", "rate": "1/s", "burst": 1}, "key"),
        ({"key": "user", "rate": "1/w", "burst": 1}, "rate"),
        ({"key": "user", "rate": "1/s", "burst": 0}, "burst"),
        ({"key": "user", "rate": "1/s"}, "burst"),
        ({"key": "user", "rate": "1/s", "burst": 1, "name": "has space"}, "name"),
        ({"key": "user", "rate": "1/s", "burst": 1, "typo": 1}, "typo"),
    ],
)
def test_bad_limits_name_the_key(limit: dict[str, Any], wrong: str) -> None:
    with pytest.raises(ValidationError) as error:
        RateLimitConfig.model_validate(limit)
    assert [e["loc"][-1] for e in error.value.errors()] == [wrong]


def test_two_limits_with_one_name_are_refused() -> None:
    same = {"key": "user", "rate": "600/m", "burst": 60}
    with pytest.raises(ValidationError, match="distinct `name`"):
        route(rate_limit=[same, same | {"burst": 10}])


def test_on_store_error_is_open_or_closed() -> None:
    with pytest.raises(ValidationError):
        route(on_store_error="retry")


def test_limits_defaults() -> None:
    limits = LimitsConfig()
    assert limits.login is not None and limits.regulation is not None
    assert (limits.login.rate, limits.login.burst) == (Rate(10, 60, "m"), 5)
    regulation = limits.regulation
    assert (regulation.max_failures, regulation.find_time, regulation.ban_time) == (5, 600, 900)
    assert (limits.max_inflight_per_upstream, limits.shed_retry_after) == (256, 1.0)


def test_limits_as_written() -> None:
    limits = LimitsConfig.model_validate(
        {
            "login": {"rate": "20/m", "burst": 10},
            "regulation": {"max_failures": 3, "find_time": "2m", "ban_time": "1h"},
            "max_inflight_per_upstream": None,
            "shed_retry_after": "5s",
        }
    )
    assert limits.login is not None and limits.login.rate == Rate(20, 60, "m")
    assert limits.regulation is not None and limits.regulation.ban_time == 3600
    assert limits.max_inflight_per_upstream is None and limits.shed_retry_after == 5


def test_login_and_regulation_can_be_turned_off() -> None:
    limits = LimitsConfig.model_validate({"login": None, "regulation": None})
    assert limits.login is None and limits.regulation is None
