"""Schema of privileged access: `entitlements:` and `access:` (pydantic v2).

Contract: shapes and local rules only (offline, pure); docs/privileged-access.md says
what they mean. An entitlement is a named, time-bound elevation that a route's policy
can require (`entitlement: [db-admin]`, `authgate.policy.criteria.entitlement`):

    entitlements:
      db-admin:
        max_duration: 1h              # no grant lasts longer (required)
        approvers: {groups: [sre-leads]}
        require_reason: true
        step_up: {acr: urn:corp:mfa}  # what the requester's login must show
        break_glass: {groups: [on-call], max_duration: 30m}

Names are kebab-case identifiers, checked here so a typo in `entitlement: [...]`
(`policy.compile`, by key path) can be told from a name that was never declared.
Without `approvers` nobody can approve a request (only an operator's `authgate
grant` or a break-glass self-grant gives the entitlement): that is refused unless
`break_glass` says who may self-grant, since an entitlement nobody can ever hold is
a mistake. Durations are capped at 30 days: a standing privilege is a role, not a
grant.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, AnyHttpUrl, Field, model_validator

from authgate.config.schema_policy import Names
from authgate.config.schema_types import Duration, Strict

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
LONGEST_GRANT = 30 * 86400.0
# A break-glass grant needs a login at most this old unless the block says otherwise.
BREAK_GLASS_MAX_AGE = 300.0


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"not an entitlement name: {value!r} (lower-case letters, digits, '-', '_', '.')"
        )
    return value


EntitlementName = Annotated[str, AfterValidator(_name)]


def _bounded(value: float) -> float:
    if value > LONGEST_GRANT:
        raise ValueError("at most 30d: a standing privilege belongs in a role, not a grant")
    return value


GrantDuration = Annotated[Duration, AfterValidator(_bounded)]


class Members(Strict):
    """Who: members of any of `groups`, or any of `users` (the decision log's user)."""

    groups: Names | None = None
    users: Names | None = None

    @model_validator(mode="after")
    def _says_who(self) -> Members:
        if self.groups is None and self.users is None:
            raise ValueError("give groups, users or both")
        return self


class LoginDemand(Strict):
    """What the login of whoever acts must show: an `acr`, `amr` methods, a recent time."""

    acr: str | None = Field(default=None, min_length=1)
    amr: Names | None = None
    max_age: Duration | None = None

    @model_validator(mode="after")
    def _asks_something(self) -> LoginDemand:
        if self.acr is None and self.amr is None and self.max_age is None:
            raise ValueError("give acr, amr or max_age (a step-up must ask for something)")
        return self


class BreakGlassConfig(Members):
    """Self-grants without an approver, for emergencies: always after a fresh login."""

    max_duration: GrantDuration | None = None  # default: the entitlement's
    # The login must be at most this old (a step-up, `prompt=login`, when it is not).
    max_age: Duration = BREAK_GLASS_MAX_AGE
    acr: str | None = Field(default=None, min_length=1)
    amr: Names | None = None


class EntitlementConfig(Strict):
    description: str | None = Field(default=None, max_length=200)
    max_duration: GrantDuration
    default_duration: GrantDuration | None = None
    approvers: Members | None = None
    requesters: Members | None = None  # None: any signed-in user may ask
    require_reason: bool = True
    require_ticket: bool = False
    step_up: LoginDemand | None = None
    break_glass: BreakGlassConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EntitlementConfig:
        if self.default_duration is not None and self.default_duration > self.max_duration:
            raise ValueError("default_duration is longer than max_duration")
        glass = self.break_glass
        if glass is not None and glass.max_duration is not None and glass.max_duration > self.max_duration:
            raise ValueError("break_glass.max_duration is longer than max_duration")
        if self.approvers is None and glass is None:
            raise ValueError("give approvers (or break_glass): nobody could ever hold this entitlement")
        return self


class WebhookConfig(Strict):
    """A Slack-compatible incoming webhook: `{"text": ...}` POSTed per grant event."""

    url: AnyHttpUrl
    timeout: Duration = 5.0
    queue_size: int = Field(default=100, ge=1, le=10_000)  # events waiting; more are dropped


class AccessConfig(Strict):
    webhook: WebhookConfig | None = None
    # Ended grants (denied, expired, revoked) stay listed this long (`authgate grants`).
    retention: Duration = 7 * 86400.0
    # A request nobody decided lapses after this.
    request_timeout: Duration = 86400.0


Entitlements = dict[EntitlementName, EntitlementConfig]
