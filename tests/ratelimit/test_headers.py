"""Header values against the examples of draft-ietf-httpapi-ratelimit-headers-11.

Section numbers are the draft's. RFC 9651 serializes a list with ", " between
members; where the draft prints a list without the space, the comparison ignores
that optional whitespace (parsers do too).
"""

from __future__ import annotations

import pytest

from authgate.config.schema_limits import RateLimitConfig
from authgate.ratelimit.gcra import GcraResult, Limit, gcra_check
from authgate.ratelimit.headers import (
    LimitStatus,
    delay_seconds,
    policy_item,
    rate_limit_headers,
    retry_after,
    service_limit_item,
    sf_string,
)


def passed(remaining: int, reset_after: float) -> GcraResult:
    return GcraResult(True, 0.0, remaining, 0.0, reset_after)


def refused(retry: float, reset_after: float) -> GcraResult:
    return GcraResult(False, 0.0, 0, retry, reset_after)


def sf_list(value: str) -> str:
    return value.replace(", ", ",")


def test_policy_item_s3_2() -> None:
    assert policy_item("default", 100, 10) == '"default";q=100;w=10'


def test_several_policies_s3_2() -> None:
    statuses = [
        LimitStatus("permin", 50, 60, passed(49, 1.2)),
        LimitStatus("perhr", 1000, 3600, passed(999, 3.6)),
    ]
    policy = rate_limit_headers(statuses)["RateLimit-Policy"]
    assert sf_list(policy) == '"permin";q=50;w=60,"perhr";q=1000;w=3600'


def test_policy_list_appendix_b_3_1_verbatim() -> None:
    statuses = [
        LimitStatus("hour", 1000, 3600, passed(900, 100)),
        LimitStatus("day", 5000, 86400, passed(100, 36000)),
    ]
    fields = rate_limit_headers(statuses)
    assert fields["RateLimit-Policy"] == '"hour";q=1000;w=3600, "day";q=5000;w=86400'
    assert fields["RateLimit"].endswith('"day";r=100;t=36000')


def test_service_limit_item_s4() -> None:
    assert service_limit_item("default", 50, 30) == '"default";r=50;t=30'


def test_appendix_b_2_1_window_rounded_up() -> None:
    fields = rate_limit_headers([LimitStatus("fixedwindow", 100, 60, passed(99, 49.2))])
    assert fields == {
        "RateLimit-Policy": '"fixedwindow";q=100;w=60',
        "RateLimit": '"fixedwindow";r=99;t=50',
    }


def test_appendix_b_1_4_throttled_retry_after_and_t_name_the_same_moment() -> None:
    fields = rate_limit_headers([LimitStatus("default", 100, 60, refused(4.2, 9.7))])
    assert fields["RateLimit"] == '"default";r=0;t=5'
    assert fields["Retry-After"] == "5"


def test_retry_after_is_the_longest_refusal_even_when_not_advertised() -> None:
    statuses = [
        LimitStatus("short", 10, 1, refused(0.3, 0.9)),
        LimitStatus("long", 100, 3600, refused(35.5, 360), advertise=False),
        LimitStatus("fine", 1000, 60, passed(12, 4)),
    ]
    fields = rate_limit_headers(statuses)
    assert fields["Retry-After"] == "36"
    assert fields["RateLimit"] == '"short";r=0;t=1, "fine";r=12;t=4'
    assert "long" not in fields["RateLimit-Policy"]


def test_nothing_advertised_and_nothing_refused_is_no_fields() -> None:
    assert rate_limit_headers([LimitStatus("quiet", 1, 1, passed(0, 1), advertise=False)]) == {}
    assert rate_limit_headers([]) == {}


def test_status_of_a_config_uses_its_name_and_rate() -> None:
    config = RateLimitConfig.model_validate({"key": "user", "rate": "600/m", "burst": 60})
    limit = Limit(config.rate.per_second, config.burst)
    status = LimitStatus.of(config, gcra_check(None, 0.0, limit))
    assert rate_limit_headers([status]) == {
        "RateLimit-Policy": '"user-600-per-m";q=600;w=60',
        "RateLimit": '"user-600-per-m";r=59;t=1',
    }


@pytest.mark.parametrize(
    ("seconds", "whole"),
    [(0.0, 0), (0.0000004, 0), (0.3, 1), (1.0, 1), (1.0000002, 1), (1.01, 2), (59.5, 60)],
)
def test_delay_seconds_round_up_but_ignore_float_noise(seconds: float, whole: int) -> None:
    assert delay_seconds(seconds) == whole


@pytest.mark.parametrize(("seconds", "value"), [(0.0, "1"), (0.2, "1"), (20, "20"), (20.1, "21")])
def test_retry_after_is_at_least_one_second(seconds: float, value: str) -> None:
    assert retry_after(seconds) == value


def test_sf_string_escapes_and_refuses_what_it_cannot_carry() -> None:
    assert sf_string('a "b" \\c') == '"a \\"b\\" \\\\c"'
    for bad in ["tab\there", "new\nline", "café"]:
        with pytest.raises(ValueError):
            sf_string(bad)
