"""The adaptive schema: defaults, and every mistake reported with its key path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from authgate.config.schema_adaptive import (
    AdaptiveConfig,
    DevicesConfig,
    GeoConfig,
    RiskHistoryConfig,
    RouteAdaptiveFields,
)


def _errors(model: Any, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


def test_defaults() -> None:
    adaptive = AdaptiveConfig()
    assert (adaptive.step_up_at, adaptive.deny_at, adaptive.max_speed_kmh) == (40, 80, 1000.0)
    assert adaptive.working_hours is None and adaptive.reputation == []
    assert RouteAdaptiveFields().adaptive is None  # no block: no risk score
    assert GeoConfig().reload_interval == 60.0 and not GeoConfig().has_location
    assert RiskHistoryConfig().ttl == 90 * 86400.0
    assert DevicesConfig() == DevicesConfig(mtls=None, posture=None, known_device_cookie=None)


def test_a_full_block() -> None:
    route = RouteAdaptiveFields.model_validate(
        {
            "adaptive": {
                "step_up_at": 30,
                "deny_at": None,
                "weights": {"new-device": 10, "outside-hours": 0},
                "max_speed_kmh": 900,
                "working_hours": {
                    "days": ["fri", "mon"], "hours": "22:00-06:00", "tz": "Asia/Tokyo",
                },  # fmt: skip
                "reputation": ["203.0.113.0/24", "2001:db8::/32"],
            }
        }
    )
    assert route.adaptive is not None and route.adaptive.working_hours is not None
    assert route.adaptive.working_hours.days == ["mon", "fri"]
    assert route.adaptive.working_hours.minutes == (22 * 60, 6 * 60)


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"weights": {"new-dev": 5}}, "weights.new-dev.[key]", "Input should be 'new-device'"),
        ({"weights": {"new-device": -1}}, "weights.new-device", "greater than or equal to 0"),
        ({"step_up_at": 80, "deny_at": 80}, "", "deny_at (80) must be above step_up_at (80)"),
        ({"step_up_at": 0}, "step_up_at", "greater than or equal to 1"),
        ({"reputation": ["10.0.0.1/8"]}, "reputation", "has host bits set"),
        ({"working_hours": {"tz": "Mars/Olympus"}}, "working_hours.tz", "not an IANA time zone"),
        ({"working_hours": {"hours": "9-17"}}, "working_hours.hours", "not a window"),
        ({"working_hours": {"hours": "08:00-24:30"}}, "working_hours.hours", "not a time"),
        ({"working_hours": {"hours": "08:00-08:00"}}, "working_hours.hours", "an empty window"),
        ({"working_hours": {"days": []}}, "working_hours.days", "at least one day"),
        ({"working_hours": {"days": ["monday"]}}, "working_hours.days.0", "Input should be 'mon'"),
        ({"max_speed_kmh": 0}, "max_speed_kmh", "greater than 0"),
        ({"typo": 1}, "typo", "Extra inputs are not permitted"),
    ],
)
def test_adaptive_errors(data: dict[str, Any], path: str, message: str) -> None:
    errors = _errors(AdaptiveConfig, data)
    assert path in errors and message in errors[path], errors


POSTURE = {"issuer": "https://mdm", "jwks_uri": "https://mdm/jwks", "audience": "gw"}


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"posture": POSTURE}, "posture", "give `header` or `cookie`"),
        ({"posture": POSTURE | {"header": "X", "jwks_uri": "http://mdm.example/jwks"}},
         "posture.jwks_uri", "https://"),
        ({"posture": POSTURE | {"header": "X", "algorithms": ["HS256", "none"]}},
         "posture.algorithms", "not allowed: ['HS256', 'none']"),
        ({"posture": {"issuer": "https://mdm", "jwks_uri": "https://mdm/jwks", "header": "X"}},
         "posture.audience", "Field required"),
        ({"mtls": {"client_ca": "ca.pem", "mode": "sometimes"}},
         "mtls.mode", "'optional' or 'required'"),
        ({"known_device_cookie": {"max_age": "500d"}},
         "known_device_cookie.max_age", "at most 400d"),
        ({"known_device_cookie": {"name": "a b"}},
         "known_device_cookie.name", "should match pattern"),
    ],
)  # fmt: skip
def test_devices_errors(data: dict[str, Any], path: str, message: str) -> None:
    errors = _errors(DevicesConfig, data)
    assert path in errors and message in errors[path], errors


def test_posture_accepts_loopback_http_for_tests() -> None:
    config = DevicesConfig.model_validate(
        {"posture": {"issuer": "i", "jwks_uri": "http://127.0.0.1:8/jwks", "audience": "gw",
                     "cookie": "posture"}}
    )  # fmt: skip
    assert config.posture is not None and config.posture.cookie == "posture"


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"city": ""}, "city", "an empty path"),
        ({"cache_size": -1}, "cache_size", "greater than or equal to 0"),
        ({"reload_interval": "soon"}, "reload_interval", "not a duration"),
        ({"isp": "x.mmdb"}, "isp", "Extra inputs"),
    ],
)
def test_geo_errors(data: dict[str, Any], path: str, message: str) -> None:
    errors = _errors(GeoConfig, data)
    assert path in errors and message in errors[path], errors
