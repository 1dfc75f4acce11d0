"""What each security event does to sessions in the store (memory store, real sessions)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from authgate.decision import Reason
from authgate.events import EventKind, StateEvent
from authgate.sessions.memory import MemorySessionStore
from authgate.sessions.model import Session, Tokens
from authgate.signals.actions import apply
from authgate.signals.events import CAEP, RISC, events_of
from tests.sessions.personas import alice

IDP = "https://login.corp.example.com/realms/corp"
ALICE = {"format": "iss_sub", "iss": IDP, "sub": alice().subject}


class Notes:
    """The state events an action publishes."""

    def __init__(self) -> None:
        self.sent: list[StateEvent] = []

    async def __call__(self, event: StateEvent) -> None:
        self.sent.append(event)


def said(kind: EventKind, reason: Reason, subject: str = "", sid: str = "") -> StateEvent:
    return StateEvent(kind, provider="corp", subject=subject, ref=sid, reason=reason.value)


@pytest.fixture
def store() -> MemorySessionStore:
    return MemorySessionStore(idle_timeout=3600)


async def sessions(store: MemorySessionStore, *specs: tuple[Any, str | None]) -> list[Session]:
    made = []
    for identity, sid in specs:
        session = Session.begin(identity, Tokens("a", "r", "i", None), now=time.time(), max_lifetime=3600, provider_sid=sid)
        await store.create(session)
        made.append(session)
    return made


async def run(store: MemorySessionStore, uri: str, payload: dict[str, Any], sub_id: Any) -> tuple[Any, Notes]:
    notes = Notes()
    [event] = events_of({"sub_id": sub_id, "events": {uri: payload}}, (IDP,))
    return await apply(event, "corp", store, notes), notes


async def live(store: MemorySessionStore, session: Session) -> bool:
    return await store.get(session.id, session.created_at + 1) is not None


@pytest.mark.parametrize(
    ("uri", "payload"),
    [
        (CAEP + "session-revoked", {}), (RISC + "sessions-revoked", {}), (RISC + "account-disabled", {}),
        (RISC + "account-purged", {}), (RISC + "credential-compromise", {"credential_type": "password"}),
        (CAEP + "credential-change", {"credential_type": "password", "change_type": "update"}),
    ],
)  # fmt: skip
async def test_ending_events_end_every_session_of_the_subject_only(
    store: MemorySessionStore, uri: str, payload: dict[str, Any]
) -> None:
    mine = await sessions(store, (alice(), "s1"), (alice(), "s2"))
    others = await sessions(store, (alice(subject="u2"), "s3"), (alice(provider="shop"), "s1"))
    applied, notes = await run(store, uri, payload, ALICE)
    assert applied.sessions == 2
    # Said with the reason, so a connection of these sessions closes saying why.
    assert notes.sent == [said(EventKind.SUBJECT_ENDED, applied.reason, subject=alice().subject)]
    assert [await live(store, s) for s in mine + others] == [False, False, True, True]


async def test_a_session_subject_ends_that_session_only(store: MemorySessionStore) -> None:
    one, two = await sessions(store, (alice(), "s1"), (alice(), "s2"))
    sub_id = {"format": "complex", "user": ALICE, "session": {"format": "opaque", "id": "s1"}}
    applied, notes = await run(store, CAEP + "session-revoked", {}, sub_id)
    assert applied.sessions == 1 and [await live(store, s) for s in (one, two)] == [False, True]
    assert notes.sent == [said(EventKind.SID_ENDED, Reason.SESSION_REVOKED_BY_PROVIDER, sid="s1")]


async def test_an_unknown_sid_falls_back_to_the_user(store: MemorySessionStore) -> None:
    one, two = await sessions(store, (alice(), "s1"), (alice(), "s2"))
    sub_id = {"format": "complex", "user": ALICE, "session": {"format": "opaque", "id": "tx-session-77"}}
    applied, _ = await run(store, CAEP + "session-revoked", {}, sub_id)
    assert applied.sessions == 2 and [await live(store, s) for s in (one, two)] == [False, False]


async def test_an_email_subject_ends_sessions_by_email(store: MemorySessionStore) -> None:
    mine, other = await sessions(store, (alice(), "s1"), (dataclasses.replace(alice(subject="u2"), email="x@y.io"), "s2"))
    applied, notes = await run(store, CAEP + "session-revoked", {}, {"format": "email", "email": "ALICE@corp.example.com"})
    assert applied.sessions == 1 and [await live(store, s) for s in (mine, other)] == [False, True]
    assert notes.sent == [said(EventKind.SUBJECT_ENDED, applied.reason, subject=alice().subject)]


async def test_assurance_downgrade_lowers_acr_drops_amr_and_asks_to_reevaluate(store: MemorySessionStore) -> None:
    [session] = await sessions(store, (alice(), "s1"))
    payload = {"namespace": "NIST-AAL", "current_level": "nist-aal1", "previous_level": "nist-aal2", "change_direction": "decrease"}
    applied, notes = await run(store, CAEP + "assurance-level-change", payload, ALICE)
    got = await store.get(session.id, session.created_at + 1)
    assert got is not None and (got.identity.acr, got.identity.amr) == ("nist-aal1", ())
    assert got.identity.groups == session.identity.groups  # nothing else changed
    assert applied.sessions == 1
    assert notes.sent == [said(EventKind.SUBJECT_CHANGED, Reason.ASSURANCE_DOWNGRADED, subject=alice().subject)]


@pytest.mark.parametrize(
    ("uri", "payload", "reason"),
    [
        (CAEP + "token-claims-change", {"claims": {"groups": ["x"]}}, Reason.CLAIMS_CHANGED),
        (CAEP + "credential-change", {"credential_type": "fido2-platform", "change_type": "create"}, Reason.CREDENTIAL_CHANGED),
    ],
)
async def test_reevaluating_events_keep_the_session_and_notify(
    store: MemorySessionStore, uri: str, payload: dict[str, Any], reason: Reason
) -> None:
    [session] = await sessions(store, (alice(), "s1"))
    applied, notes = await run(store, uri, payload, {"format": "email", "email": "alice@corp.example.com"})
    assert await live(store, session)
    # The email named the user: the re-evaluation names the sub its sessions hold.
    assert notes.sent == [said(EventKind.SUBJECT_CHANGED, reason, subject=alice().subject)]
    assert applied.reason is reason


@pytest.mark.parametrize(
    ("uri", "sub_id", "reason"),
    [
        ("https://example.com/made-up", ALICE, Reason.SIGNAL_EVENT_UNKNOWN),
        ("https://schemas.openid.net/secevent/ssf/event-type/verification", None, Reason.SIGNAL_ACKNOWLEDGED),
        (CAEP + "session-revoked", {"format": "iss_sub", "iss": "https://elsewhere.example", "sub": alice().subject},
         Reason.SIGNAL_SUBJECT_UNKNOWN),
        (CAEP + "session-revoked", {"format": "phone_number", "phone_number": "+1"}, Reason.SIGNAL_SUBJECT_UNKNOWN),
    ],
)  # fmt: skip
async def test_what_names_nothing_changes_nothing(store: MemorySessionStore, uri: str, sub_id: Any, reason: Reason) -> None:
    [session] = await sessions(store, (alice(), "s1"))
    applied, notes = await run(store, uri, {}, sub_id)
    assert (applied.reason, applied.sessions, notes.sent) == (reason, 0, [])
    assert await live(store, session)
