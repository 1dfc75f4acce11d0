"""Audience defaults: what `audience: workforce | customer` sets on a route.

Contract: `effective_route_settings(route)` returns the settings a route runs with:
the route's own keys where it has them, else its audience's defaults, else the
gateway's. The table (also in docs/policies.md):

| setting                        | workforce               | customer       | none          |
|--------------------------------|-------------------------|----------------|---------------|
| policy (when `policy:` absent) | authenticated AND mfa   | authenticated  | authenticated |
| session_idle_timeout           | 1h                      | 7d             | global        |
| device_counts                  | true                    | false          | false         |
| providers_chooser              | false                   | true           | true          |
| credential_stuffing_protection | false                   | true           | false         |
| reverify_every                 | 5m                      | off            | off           |

A route's own `policy:` REPLACES the default as a whole (it is not merged): a
workforce route with its own policy must say `{mfa: true}` itself where MFA is
wanted. `device_counts`, `providers_chooser` and `credential_stuffing_protection`
are flags read by later stages (risk, sign-in page, login rate limits); they have
no route key of their own yet.
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from authgate.config.schema import RouteConfig
from authgate.config.schema_policy import (
    Audience,
    ConsentConfig,
    PolicyConfig,
    StepUpConfig,
)

_HOUR = 3600.0
_DAY = 86400.0

_DEFAULT_POLICIES: dict[Audience | None, dict[str, object]] = {
    "workforce": {"allow": [{"and": [{"authenticated": True}, {"mfa": True}]}]},
    "customer": {"allow": [{"authenticated": True}]},
    None: {"allow": [{"authenticated": True}]},
}


@dataclass(frozen=True, slots=True)
class AudienceDefaults:
    session_idle_timeout: float | None  # None: the global sessions.idle_timeout
    device_counts: bool
    providers_chooser: bool
    credential_stuffing_protection: bool
    # Re-verify a session at its provider this often (None: only when its access
    # token is due for a refresh); a provider's or route's `reverify_every` wins.
    reverify_every: float | None = None


AUDIENCE_DEFAULTS: dict[Audience | None, AudienceDefaults] = {
    # Employees leave and change teams: a removed group stops counting within 5 min.
    "workforce": AudienceDefaults(1 * _HOUR, True, False, False, 5 * 60.0),
    "customer": AudienceDefaults(7 * _DAY, False, True, True),
    # Without an audience the gateway behaves as before audiences existed: a chooser
    # page when a route accepts several providers.
    None: AudienceDefaults(None, False, True, False),
}


@dataclass(frozen=True, slots=True)
class EffectiveSettings:
    audience: Audience | None
    policy: PolicyConfig
    policy_source: Literal["route", "audience"]
    session_idle_timeout: float | None
    device_counts: bool
    providers_chooser: bool
    credential_stuffing_protection: bool
    step_up: tuple[StepUpConfig, ...]
    consent: ConsentConfig | None


def default_policy(audience: Audience | None) -> PolicyConfig:
    """The policy a route of this audience runs when it has no `policy:` key."""
    return PolicyConfig.model_validate(_DEFAULT_POLICIES[audience])


def effective_route_settings(route: RouteConfig) -> EffectiveSettings:
    defaults = AUDIENCE_DEFAULTS[route.audience]
    idle = route.session_idle_timeout
    return EffectiveSettings(
        audience=route.audience,
        policy=route.policy if route.policy is not None else default_policy(route.audience),
        policy_source="route" if route.policy is not None else "audience",
        session_idle_timeout=idle if idle is not None else defaults.session_idle_timeout,
        device_counts=defaults.device_counts,
        providers_chooser=defaults.providers_chooser,
        credential_stuffing_protection=defaults.credential_stuffing_protection,
        step_up=step_up_blocks(route.step_up),
        consent=route.consent,
    )


def step_up_blocks(value: StepUpConfig | list[StepUpConfig] | None) -> tuple[StepUpConfig, ...]:
    """`step_up:` as written (one block or a list) -> a tuple of blocks."""
    if value is None:
        return ()
    return (value,) if isinstance(value, StepUpConfig) else tuple(value)
