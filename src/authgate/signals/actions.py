"""Carry out one security event on the shared session store.

Contract: `apply(event, provider, store, publish)` does what the event's `Effect`
says (`signals.events`) to the sessions its subject names, through the shared store
— so every replica sees it: a session ended in the store is gone for all of them,
and the store's wrapper tells their caches (`authgate.events`) — and answers an
`Applied`: the event, the reason for its record and how many live sessions it ended
or changed. `publish` sends state events that carry the event's reason, so what
acts on them elsewhere (a WebSocket of that session closed, `continuous.connections`)
records why: SID_ENDED / SUBJECT_ENDED *before* the store ends those sessions (a
connection never outlives them; the store's own reason-less event follows),
SUBJECT_CHANGED for a re-evaluation. Store failures raise `StoreUnavailable`.

- END: by `sid` where the subject names a session (the provider's `sid`); when no
  session has that `sid` and the subject also names its user, by the user: a
  transmitter's session ids need not be the OIDC `sid`s, and ending too much is
  the safe side. By `sub`, and by email (`store.delete_by_email`).
- REEVALUATE: SUBJECT_CHANGED for each named `sub`, and for each user an email or a
  `sid` names: every replica re-reads those sessions and re-decides what they hold
  open.
- DOWNGRADE: `store.change_identities` sets `acr` to the event's level and drops
  `amr` (the methods of the login no longer vouch for the new level), then
  SUBJECT_CHANGED.
- A subject that names nothing of ours, for an effect that needs one: the record
  says `signal-subject-unknown`, nothing changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from authgate.decision import Reason
from authgate.events import EventKind, StateEvent
from authgate.identity import Identity
from authgate.sessions.store import SessionIndex, SessionStore
from authgate.signals.events import Effect, SecurityEvent
from authgate.signals.subjects import Subject

Publish = Callable[[StateEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Applied:
    event: SecurityEvent
    reason: Reason
    sessions: int = 0  # live sessions ended or changed


async def apply(event: SecurityEvent, provider: str, store: SessionStore, publish: Publish) -> Applied:
    subject = event.subject
    if event.effect in (Effect.ACKNOWLEDGE, Effect.UNKNOWN):
        return Applied(event, event.reason)
    if subject is None:
        return Applied(event, Reason.SIGNAL_SUBJECT_UNKNOWN)
    said = _Said(provider, event.reason, publish)
    if event.effect is Effect.END:
        return Applied(event, event.reason, await _end(subject, provider, store, said))
    count = 0
    if event.effect is Effect.DOWNGRADE:
        count = await _downgrade(subject, provider, store, event.acr or "")
    subjects = await _subjects(subject, provider, store)
    for sub in subjects:
        await said(EventKind.SUBJECT_CHANGED, subject=sub)
    return Applied(event, event.reason, count if event.effect is Effect.DOWNGRADE else len(subjects))


@dataclass(frozen=True, slots=True)
class _Said:
    """Publishes state events about one provider's sessions, with one reason."""

    provider: str
    reason: Reason
    publish: Publish

    async def __call__(self, kind: EventKind, *, subject: str = "", sid: str = "") -> None:
        event = StateEvent(kind, provider=self.provider, subject=subject, ref=sid, reason=self.reason.value)
        await self.publish(event)


async def _end(subject: Subject, provider: str, store: SessionStore, said: _Said) -> int:
    ended = 0
    for sid in subject.sids:
        await said(EventKind.SID_ENDED, sid=sid)
        ended += await store.delete_by_provider_sid(provider, sid)
    if ended and subject.sids:
        return ended  # the named session(s) ended: the user's others live on
    for sub in subject.subs:
        await said(EventKind.SUBJECT_ENDED, subject=sub)
        ended += await store.delete_by_subject(provider, sub)
    for email in subject.emails:
        for sub in await _subjects(Subject(emails=(email,)), provider, store):
            await said(EventKind.SUBJECT_ENDED, subject=sub)
        ended += await store.delete_by_email(provider, email)
    return ended


def _indexes(subject: Subject) -> list[tuple[SessionIndex, str]]:
    found: list[tuple[SessionIndex, str]] = [("sid", sid) for sid in subject.sids]
    found += [("sub", sub) for sub in subject.subs]
    return found + [("email", email) for email in subject.emails]


async def _downgrade(subject: Subject, provider: str, store: SessionStore, acr: str) -> int:
    def lowered(identity: Identity) -> Identity:
        return dataclasses.replace(identity, acr=acr, amr=())

    changed = 0
    for index, value in _indexes(subject):
        changed += await store.change_identities(provider, index, value, lowered)
    return changed


async def _subjects(subject: Subject, provider: str, store: SessionStore) -> list[str]:
    """The `sub`s the subject names: its own, and those of the sessions a `sid` or an
    email lists (read through `change_identities` with a change that changes nothing,
    which writes nothing)."""
    found = dict.fromkeys(subject.subs)

    def seen(identity: Identity) -> Identity:
        found[identity.subject] = None
        return identity

    for index, value in _indexes(subject):
        if index != "sub":
            await store.change_identities(provider, index, value, seen)
    return list(found)
