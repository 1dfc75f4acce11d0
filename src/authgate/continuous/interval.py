"""When a session is re-verified at its provider: `reverify_every`, route over provider
over audience.

Contract: `reverify_interval(route, provider)` is the route's `reverify_every` when it
has one, else the provider's, else the route's audience default
(`policy.audience.AUDIENCE_DEFAULTS`: workforce 5 min, customer and none off); `off`
anywhere in that order is None. `reverify_due(verified_at, interval, now)` says
whether a session last verified at `verified_at` must be verified again before this
request is decided. Pure module.
"""

from __future__ import annotations

from authgate.config.schema import RouteConfig
from authgate.config.schema_auth import ProviderConfig
from authgate.policy.audience import AUDIENCE_DEFAULTS


def reverify_interval(route: RouteConfig, provider: ProviderConfig) -> float | None:
    for value in (route.reverify_every, provider.reverify_every):
        if value is not None:
            return None if value == "off" else value
    return AUDIENCE_DEFAULTS[route.audience].reverify_every


def reverify_due(verified_at: float, interval: float | None, now: float) -> bool:
    return interval is not None and now >= verified_at + interval
