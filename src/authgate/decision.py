"""The decision value: what the gateway does with one request, and why.

Contract: a `Decision` is frozen. The proxy enforces exactly this object and the
decision log writes exactly this object; no code path answers a request without one.
Reasons are a closed vocabulary of short kebab-case codes (STYLE.md, lesson 2).
Pure module: no aiohttp, redis or authlib imports.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    """What the gateway does with the request."""

    ALLOW = "allow"
    DENY = "deny"
    LOGIN = "login"
    STEP_UP = "step_up"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


class Reason(enum.StrEnum):
    """Closed set of reason codes; each names the fact that decided."""

    ROUTE_PUBLIC = "route-public"
    ROUTE_NOT_FOUND = "route-not-found"
    HOST_UNKNOWN = "host-unknown"
    HOST_INVALID = "host-invalid"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    PATH_INVALID = "path-invalid"
    USER_UNAUTHENTICATED = "user-unauthenticated"
    UPSTREAM_UNREACHABLE = "upstream-unreachable"
    UPSTREAM_TIMEOUT = "upstream-timeout"
    UPSTREAM_FAILED = "upstream-failed"
    GATEWAY_ERROR = "gateway-error"


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision: outcome, the reasons that decided it, the route and the rule."""

    outcome: Outcome
    reasons: tuple[Reason, ...]
    route_id: str | None = None
    rule: str | None = None
    status: int = 200
    extra: tuple[tuple[str, str], ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def reason(self) -> str:
        """The reasons joined for logs and pages (`route-not-found`)."""
        return ",".join(r.value for r in self.reasons)
