"""Schema of rate limits, login-abuse protection and load shedding (pydantic v2).

Contract: shapes and local rules only (offline, pure); `RouteLimitFields` is mixed
into `RouteConfig`, `LimitsConfig` is the gateway-wide `limits:` block.

A rate is written `N/s`, `N/m`, `N/h` or `N/d` and becomes a `Rate` (count, period
in seconds); a burst is how many requests may arrive at once (GCRA, see
`authgate.ratelimit.gcra`). A limit's key is `client_ip`, `user`, `session`, `route`
or `header:<Name>`. Each limit has a name — given, or derived from key and rate —
unique within its route: it names the limit in the decision record, in the
`RateLimit` headers, and in the store key, so two limits of a route never share a
bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainValidator, model_validator

from authgate.config.schema_types import Duration, Strict
from authgate.config.schema_websocket import WebSocketLimitsConfig

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|m|h|d)\s*$")
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_KEY = re.compile(r"^(?:client_ip|user|session|route|header:[A-Za-z0-9-]+)$")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


@dataclass(frozen=True)
class Rate:
    """`count` requests per `period` seconds, as the operator wrote it (`600/m`)."""

    count: int
    period: int  # seconds: 1, 60, 3600 or 86400
    unit: str  # s, m, h or d

    @property
    def per_second(self) -> float:
        return self.count / self.period

    def __str__(self) -> str:
        return f"{self.count}/{self.unit}"


def parse_rate(value: object) -> Rate:
    """`"600/m"` -> Rate(600, 60, "m"); a `Rate` passes through."""
    if isinstance(value, Rate):
        return value
    found = _RATE.match(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"not a rate: {value!r} (write N/s, N/m, N/h or N/d, e.g. 600/m)")
    count, unit = int(found.group(1)), found.group(2)
    if count < 1:
        raise ValueError("a rate must allow at least 1 request")
    return Rate(count, _PERIOD_SECONDS[unit], unit)


RateSpec = Annotated[Rate, PlainValidator(parse_rate)]


def _limit_key(value: object) -> object:
    if isinstance(value, str) and not _KEY.fullmatch(value):
        raise ValueError(
            f"not a limit key: {value!r} "
            "(client_ip, user, session, route or header:<Name>, e.g. header:X-Api-Key)"
        )
    return value


class RateLimitConfig(Strict):
    """One limit of a route: `rate` per key, with at most `burst` requests at once."""

    key: Annotated[str, BeforeValidator(_limit_key)]
    rate: RateSpec
    burst: int = Field(ge=1)
    name: str | None = Field(default=None, pattern=_NAME)
    headers: bool = True  # send RateLimit-Policy / RateLimit on answers

    @cached_property
    def policy_name(self) -> str:
        """The name given, else one derived from key and rate (`user-600-per-m`)."""
        if self.name is not None:
            return self.name
        key = self.key.replace(":", "-").lower()
        return f"{key}-{self.rate.count}-per-{self.rate.unit}"


def _one_or_many(value: object) -> object:
    # DESIGN's YAML writes a single limit as a mapping; several as a list.
    return [value] if isinstance(value, dict) else value


class RouteLimitFields(Strict):
    """Rate-limit keys of a route (mixed into RouteConfig)."""

    rate_limit: Annotated[list[RateLimitConfig], BeforeValidator(_one_or_many)] = Field(
        default_factory=list
    )
    # When the limiter's store cannot be reached: `open` serves the request and
    # records that no limit was checked; `closed` answers 503.
    on_store_error: Literal["open", "closed"] = "open"

    @model_validator(mode="after")
    def _unique_limit_names(self) -> RouteLimitFields:
        names = [limit.policy_name for limit in self.rate_limit]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"two rate limits named {duplicates}: give each limit a distinct `name`"
            )
        return self


class LoginLimitConfig(Strict):
    """Per client IP, on the gateway's own /.authgate/start and /.authgate/callback."""

    rate: RateSpec = Rate(10, 60, "m")
    burst: int = Field(default=5, ge=1)


class RegulationConfig(Strict):
    """Ban a client IP (or bearer subject) after repeated failures (as Authelia does)."""

    max_failures: int = Field(default=5, ge=1)
    find_time: Duration = 600.0  # failures counted within this window
    ban_time: Duration = 900.0  # how long the ban lasts


class LimitsConfig(Strict):
    """Gateway-wide limits: login endpoints, failure regulation, load shedding."""

    login: LoginLimitConfig | None = Field(default_factory=LoginLimitConfig)
    regulation: RegulationConfig | None = Field(default_factory=RegulationConfig)
    # In-flight requests per upstream; past it, 503 at once rather than a queue
    # without bound. null: no cap.
    max_inflight_per_upstream: int | None = Field(default=256, ge=1)
    shed_retry_after: Duration = 1.0  # Retry-After on those 503s
    # Concurrent WebSockets per user and per client IP (docs/operations.md).
    websockets: WebSocketLimitsConfig = Field(default_factory=WebSocketLimitsConfig)
