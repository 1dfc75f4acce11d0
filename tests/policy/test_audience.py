"""Audience defaults: the documented table, and a route's own keys override it."""

from __future__ import annotations

from typing import Any

import pytest

from authgate.config.schema import RouteConfig
from authgate.config.schema_policy import Audience
from authgate.policy.audience import (
    AUDIENCE_DEFAULTS,
    default_policy,
    effective_route_settings,
)

HOUR = 3600.0
DAY = 86400.0


def route(**keys: Any) -> RouteConfig:
    return RouteConfig.model_validate(
        {"id": "r", "match": {"host": "r.example.com"}, "upstream": "http://127.0.0.1:9000", **keys}
    )


@pytest.mark.parametrize(
    ("audience", "policy", "idle", "device", "chooser", "stuffing"),
    [
        (
            "workforce",
            {"allow": [{"and": [{"authenticated": True}, {"mfa": True}]}]},
            HOUR,
            True,
            False,
            False,
        ),
        ("customer", {"allow": [{"authenticated": True}]}, 7 * DAY, False, True, True),
        (None, {"allow": [{"authenticated": True}]}, None, False, True, False),
    ],
)
def test_defaults_table(
    audience: str | None,
    policy: dict[str, Any],
    idle: float | None,
    device: bool,
    chooser: bool,
    stuffing: bool,
) -> None:
    settings = effective_route_settings(route(audience=audience))
    assert settings.policy.model_dump(by_alias=True, exclude_unset=True) == policy
    assert settings.policy_source == "audience"
    assert settings.session_idle_timeout == idle
    assert (settings.device_counts, settings.providers_chooser) == (device, chooser)
    assert settings.credential_stuffing_protection is stuffing
    assert (settings.step_up, settings.consent) == ((), None)


def test_routes_own_keys_override() -> None:
    settings = effective_route_settings(
        route(
            audience="workforce",
            policy={"allow": [{"groups": ["hr"]}]},
            session_idle_timeout="15m",
            step_up={"max_age": "5m"},
            consent={"require": ["t"], "url": "https://c.example.com/"},
        )
    )
    assert settings.policy_source == "route"
    assert settings.policy.model_dump(by_alias=True, exclude_unset=True) == {
        "allow": [{"groups": ["hr"]}]
    }
    assert settings.session_idle_timeout == 15 * 60
    assert [block.max_age for block in settings.step_up] == [300.0]
    assert settings.consent is not None and settings.consent.require == ["t"]


def test_a_routes_policy_replaces_the_default_whole() -> None:
    # documented: a workforce route with its own policy does not get MFA added
    settings = effective_route_settings(
        route(audience="workforce", policy={"allow": [{"groups": ["x"]}]})
    )
    assert "mfa" not in str(settings.policy.model_dump(exclude_unset=True))


def test_step_up_list_keeps_order() -> None:
    settings = effective_route_settings(route(step_up=[{"acr": "a"}, {"acr": "b"}]))
    assert [block.acr for block in settings.step_up] == ["a", "b"]


def test_every_audience_has_defaults_and_a_policy() -> None:
    audiences: tuple[Audience | None, ...] = ("workforce", "customer", None)
    for audience in audiences:
        assert audience in AUDIENCE_DEFAULTS
        assert default_policy(audience).allow
