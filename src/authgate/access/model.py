"""The grant: one time-bound, approved (or break-glass) elevation of one user.

Contract: a `Grant` is a frozen value. Its `state` moves only forward:

    requested -> approved -> active -> expired | revoked
    requested -> denied | expired (nobody decided within access.request_timeout)
    active (break-glass or an operator's grant) -> expired | revoked

An approval starts the grant at once (`approved` is recorded as an event, the state
stored is `active`); `starts_at`/`expires_at` are set then, and `expires_at` is never
later than `starts_at + max_duration` of its entitlement (`authgate.access.service`
checks that against the config of the moment). `status_at(now)` is the state a
reader must act on: an `active` grant past its end is `expired` whether or not a
sweeper has written that yet, so expiry needs no writer to take effect. The subject
is the provider and its `sub` (a user's display name can change; the pair cannot).
`route` narrows a grant to one route id; None holds on every route that asks for
the entitlement. `encode`/`decode` give compact JSON bytes; `decode` of anything
else raises ValueError. Pure module.
"""

from __future__ import annotations

import enum
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Any


class GrantState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DENIED = "denied"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


OPEN = frozenset({GrantState.REQUESTED, GrantState.APPROVED, GrantState.ACTIVE})
ENDED = frozenset({GrantState.DENIED, GrantState.EXPIRED, GrantState.REVOKED})


def new_grant_id() -> str:
    # 96 random bits: ids are shown on pages and in logs, and are not guessable.
    return "g-" + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    provider: str
    subject: str
    user: str  # for display and the decision log; not what grants are keyed by
    entitlement: str
    state: GrantState
    requested_at: float
    duration: float  # seconds asked for
    reason: str = ""
    ticket: str = ""
    route: str | None = None  # one route id, or every route requiring the entitlement
    requested_by: str = ""  # the actor who asked (the user; an operator for `authgate grant`)
    break_glass: bool = False
    starts_at: float | None = None
    expires_at: float | None = None
    decided_by: str | None = None  # approver, denier or revoker
    decided_at: float | None = None
    note: str = ""  # the approver's or revoker's word

    @property
    def holder(self) -> tuple[str, str]:
        return (self.provider, self.subject)

    def status_at(self, now: float) -> GrantState:
        """The state to act on at `now`: an active grant past its end is expired."""
        if self.state is GrantState.ACTIVE and self.expires_at is not None and now >= self.expires_at:
            return GrantState.EXPIRED
        return self.state

    def holds(self, entitlement: str, route_id: str, now: float) -> bool:
        """Active at `now` for `entitlement` on `route_id` (route scope honoured)."""
        return (
            self.entitlement == entitlement
            and (self.route is None or self.route == route_id)
            and self.status_at(now) is GrantState.ACTIVE
            and self.starts_at is not None
            and self.starts_at <= now
        )

    def activated(self, now: float, by: str | None, note: str = "") -> Grant:
        return replace(
            self, state=GrantState.ACTIVE, starts_at=now, expires_at=now + self.duration,
            decided_by=by, decided_at=now, note=note or self.note,
        )  # fmt: skip

    def ended(self, state: GrantState, now: float, by: str | None, note: str = "") -> Grant:
        ends = self.expires_at if state is GrantState.EXPIRED and self.expires_at else now
        return replace(
            self, state=state, decided_by=by if by is not None else self.decided_by,
            decided_at=now, note=note or self.note,
            expires_at=min(ends, self.expires_at) if self.expires_at is not None else None,
        )  # fmt: skip

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | str) -> Grant:
        try:
            fields: Any = json.loads(data)
            if not isinstance(fields, dict):
                raise ValueError("not an object")
            fields["state"] = GrantState(fields["state"])
            return cls(**fields)
        except (TypeError, KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"not a grant: {error}") from None


def span(seconds: float) -> str:
    """`1h`, `30m`, `45s`: how pages, announcements and forms show durations."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def moment(epoch: float | None) -> str:
    """An instant as pages and announcements show it: `2026-12-04 05:00:00 UTC`."""
    if epoch is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


class GrantRefused(Exception):
    """A grant operation the rules refuse; `code` is a short kebab-case reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
