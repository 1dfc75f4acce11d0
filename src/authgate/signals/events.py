"""Security events (CAEP 1.0, RISC 1.0) and what each one does to sessions.

Contract: `events_of(claims, issuers)` turns the claims of a verified SET into one
`SecurityEvent` per member of its `events` claim (RFC 8417 §2.2; SSF 1.0 SETs hold
one, others may hold several), each with its `Effect` and the `Reason` its
decision record gives:

- END — the subject's sessions end: CAEP `session-revoked`, RISC `sessions-revoked`,
  OAuth `tokens-revoked` (Google's RISC), RISC `account-disabled`, `account-purged`,
  `credential-compromise`, `account-credential-change-required`, and a CAEP
  `credential-change` that updates, revokes or deletes a credential (the session was
  proven with what no longer holds).
- REEVALUATE — every session of the subject is re-checked on its next request:
  CAEP `token-claims-change`, and a `credential-change` that only creates one.
- DOWNGRADE — CAEP `assurance-level-change` going down (`change_direction:
  decrease`, or no direction given): the sessions' `acr` becomes `current_level`
  and their `amr` is dropped, so step-up routes ask again.
- ACKNOWLEDGE — known, and nothing to do: SSF `verification` and `stream-updated`,
  an assurance level going up (a signal never raises a session's level), and the
  other CAEP / RISC types (device compliance, session established, account enabled,
  identifier changes, opt-in/out, recovery), OAuth `token-revoked` (one token).
- UNKNOWN — any other type: acknowledged and recorded, never an error (SSF 1.0:
  receivers ignore event types they do not understand).

The subject is the SET's `sub_id` claim (SSF 1.0 §4.1, RFC 9493 §4), else the
event's own `subject` member (CAEP/RISC before SSF 1.0, and Google's RISC). Pure
module.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from authgate.decision import Reason
from authgate.signals.subjects import Subject, subject_of

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
OAUTH = "https://schemas.openid.net/secevent/oauth/event-type/"


class Effect(enum.StrEnum):
    END = "end"
    REEVALUATE = "reevaluate"
    DOWNGRADE = "downgrade"
    ACKNOWLEDGE = "acknowledge"
    UNKNOWN = "unknown"


_ENDS: Mapping[str, Reason] = {
    CAEP + "session-revoked": Reason.SESSION_REVOKED_BY_PROVIDER,
    RISC + "sessions-revoked": Reason.SESSION_REVOKED_BY_PROVIDER,
    OAUTH + "tokens-revoked": Reason.SESSION_REVOKED_BY_PROVIDER,
    RISC + "account-disabled": Reason.ACCOUNT_DISABLED,
    RISC + "account-purged": Reason.ACCOUNT_PURGED,
    RISC + "credential-compromise": Reason.CREDENTIAL_COMPROMISED,
    RISC + "account-credential-change-required": Reason.CREDENTIAL_COMPROMISED,
}
_ACKNOWLEDGED = frozenset(
    [SSF + name for name in ("verification", "stream-updated")]
    + [RISC + "verification"]  # the pre-SSF verification event (Google's RISC)
    # Google's RISC: one refresh token (named by a hash) revoked; our sessions
    # cannot be matched to it, and its refresh fails at the provider anyway.
    + [OAUTH + "token-revoked"]
    + [
        CAEP + name
        for name in (
            "device-compliance-change", "session-established", "session-presented",
            "risk-level-change",
        )
    ]
    + [
        RISC + name
        for name in (
            "account-enabled", "identifier-changed", "identifier-recycled", "opt-in",
            "opt-out-initiated", "opt-out-cancelled", "opt-out-effective",
            "recovery-activated", "recovery-information-changed",
        )
    ]
)  # fmt: skip
CREDENTIAL_CHANGE = CAEP + "credential-change"
TOKEN_CLAIMS_CHANGE = CAEP + "token-claims-change"
ASSURANCE_LEVEL_CHANGE = CAEP + "assurance-level-change"


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    type: str  # the event type URI
    effect: Effect
    reason: Reason
    subject: Subject | None  # None: nothing among our sessions is named
    acr: str | None = None  # DOWNGRADE: the level the sessions now have
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The type's last path segment (`session-revoked`), for records and metrics."""
        return self.type.rstrip("/").rsplit("/", 1)[-1][:64]


def events_of(claims: Mapping[str, Any], issuers: Collection[str]) -> list[SecurityEvent]:
    """One event per member of the (already checked) `events` claim."""
    top = subject_of(claims.get("sub_id"), issuers) if "sub_id" in claims else None
    found = []
    for uri, payload in claims["events"].items():
        subject = top if "sub_id" in claims else subject_of(payload.get("subject"), issuers)
        found.append(_event(uri, payload, subject))
    return found


def _event(uri: str, payload: Mapping[str, Any], subject: Subject | None) -> SecurityEvent:
    if uri in _ENDS:
        return SecurityEvent(uri, Effect.END, _ENDS[uri], subject, payload=payload)
    if uri == CREDENTIAL_CHANGE:
        # CAEP §3.3 change_type: create, revoke, update, delete.
        ends = payload.get("change_type") != "create"
        effect = Effect.END if ends else Effect.REEVALUATE
        return SecurityEvent(uri, effect, Reason.CREDENTIAL_CHANGED, subject, payload=payload)
    if uri == TOKEN_CLAIMS_CHANGE:
        return SecurityEvent(uri, Effect.REEVALUATE, Reason.CLAIMS_CHANGED, subject, payload=payload)
    if uri == ASSURANCE_LEVEL_CHANGE:
        return _assurance(uri, payload, subject)
    if uri in _ACKNOWLEDGED:
        return SecurityEvent(uri, Effect.ACKNOWLEDGE, Reason.SIGNAL_ACKNOWLEDGED, subject, payload=payload)
    return SecurityEvent(uri, Effect.UNKNOWN, Reason.SIGNAL_EVENT_UNKNOWN, subject, payload=payload)


def _assurance(uri: str, payload: Mapping[str, Any], subject: Subject | None) -> SecurityEvent:
    # CAEP §3.4: current_level (REQUIRED), previous_level, change_direction
    # (increase / decrease, OPTIONAL). Without a direction the level may have gone
    # down: treated as a downgrade, which costs a step-up at worst.
    level = payload.get("current_level")
    down = payload.get("change_direction", "decrease") != "increase"
    if not down or not isinstance(level, str) or not level:
        return SecurityEvent(uri, Effect.ACKNOWLEDGE, Reason.SIGNAL_ACKNOWLEDGED, subject, payload=payload)
    return SecurityEvent(
        uri, Effect.DOWNGRADE, Reason.ASSURANCE_DOWNGRADED, subject, acr=level, payload=payload
    )
