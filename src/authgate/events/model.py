"""State events: what one process tells every other one that shares its store.

Contract: a `StateEvent` is a frozen value naming what changed — one session (by the
store's hashed key, `sessions.keys.storage_key`, never the session id: the id is
the bearer credential, and a channel is readable by whoever can read the store), the
sessions of one provider `sid` or `sub`, a subject's grants, a ban. `encode()` gives
compact JSON bytes; `decode(data)` is its inverse and raises `ValueError` on anything
else — an unknown kind, a missing or mistyped field — so a receiver logs and skips a
bad message instead of acting on half of it. Unknown fields are ignored (a newer
replica may send more during a rolling upgrade).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import StrEnum


class EventKind(StrEnum):
    # session_key: one session ended; drop it everywhere.
    SESSION_ENDED = "session-ended"
    # session_key: one session changed (refresh, step-up, acr downgrade); re-read it.
    SESSION_CHANGED = "session-changed"
    # provider + ref (the provider's `sid`): the sessions of that provider session ended
    # (OIDC Back-Channel Logout 1.0 §2.7, a logout token with a `sid`).
    SID_ENDED = "sid-ended"
    # provider + subject: every session of that subject ended.
    SUBJECT_ENDED = "subject-ended"
    # provider + subject: every session of that subject must be re-read / re-evaluated.
    SUBJECT_CHANGED = "subject-changed"
    # subject (+ ref = grant id): privileged-access grants changed.
    GRANT_CHANGED = "grant-changed"
    # ref = ban key: login-abuse bans changed.
    BANS_CHANGED = "bans-changed"


@dataclass(frozen=True, slots=True)
class StateEvent:
    kind: EventKind
    session_key: str = ""  # the store's hashed key, never the raw session id
    provider: str = ""
    subject: str = ""
    ref: str = ""
    reason: str = ""  # an outcomes.Reason value, for the record of whoever acts on it

    def encode(self) -> bytes:
        data = {k: v for k, v in asdict(self).items() if v}  # empty fields left out
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


_TEXT_FIELDS = tuple(f.name for f in fields(StateEvent) if f.name != "kind")


def decode(data: bytes | str) -> StateEvent:
    """The event in `data`; `ValueError` when it is not one (see the module contract)."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a state event: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("not a state event: not an object")
    try:
        kind = EventKind(str(raw.get("kind")))
    except ValueError:
        raise ValueError(f"unknown state event kind {raw.get('kind')!r}") from None
    values = {name: raw.get(name, "") for name in _TEXT_FIELDS}
    if not all(isinstance(v, str) for v in values.values()):
        raise ValueError("a state event field is not a string")
    return StateEvent(kind, **values)
