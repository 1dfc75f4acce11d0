"""Subject identifiers (RFC 9493, SSF complex subjects) and each event type's effect."""

from __future__ import annotations

from typing import Any

import pytest

from authgate.decision import Reason
from authgate.signals.events import CAEP, OAUTH, RISC, SSF, Effect, events_of
from authgate.signals.subjects import Subject, subject_of

IDP = "https://idp.example.com"
TX = "https://tx.example.com/"
ISSUERS = (IDP, TX)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"format": "iss_sub", "iss": IDP, "sub": "u1"}, Subject(subs=("u1",))),
        ({"format": "iss_sub", "iss": IDP + "/", "sub": "u1"}, Subject(subs=("u1",))),
        ({"format": "iss_sub", "iss": "https://tx.example.com", "sub": "u1"}, Subject(subs=("u1",))),
        ({"format": "iss_sub", "iss": "https://other.example", "sub": "u1"}, None),
        ({"format": "iss_sub", "iss": IDP}, None),
        ({"format": "email", "email": "Bob@Example.COM"}, Subject(emails=("bob@example.com",))),
        ({"format": "opaque", "id": "u7"}, Subject(subs=("u7",))),
        ({"format": "phone_number", "phone_number": "+12065550100"}, None),
        ({"format": "complex", "user": {"format": "email", "email": "b@x.io"}, "session": {"format": "opaque", "id": "sid-9"}},
         Subject(sids=("sid-9",), emails=("b@x.io",))),
        ({"format": "complex", "device": {"format": "opaque", "id": "d1"}}, None),
        ({"format": "aliases", "identifiers": [{"format": "email", "email": "a@x.io"}, {"format": "iss_sub", "iss": IDP, "sub": "u2"}]},
         Subject(subs=("u2",), emails=("a@x.io",))),
        ({"format": "aliases", "identifiers": [{"format": "aliases", "identifiers": [{"format": "opaque", "id": "z"}]}]}, None),
        ({"subject_type": "iss-sub", "iss": IDP, "sub": "u3"}, Subject(subs=("u3",))),  # pre-RFC RISC
        ({"subject_type": "id_token_claims", "iss": IDP, "sub": "u4"}, Subject(subs=("u4",))),
        ({"user": {"format": "opaque", "id": "u5"}}, Subject(subs=("u5",))),  # complex without format
        ("u1", None), (None, None), ({"format": "email", "email": 5}, None),
    ],
)  # fmt: skip
def test_subjects(value: Any, expected: Subject | None) -> None:
    assert subject_of(value, ISSUERS) == expected


BOB = {"format": "iss_sub", "iss": IDP, "sub": "bob"}


@pytest.mark.parametrize(
    ("uri", "payload", "effect", "reason"),
    [
        (CAEP + "session-revoked", {}, Effect.END, Reason.SESSION_REVOKED_BY_PROVIDER),
        (RISC + "sessions-revoked", {}, Effect.END, Reason.SESSION_REVOKED_BY_PROVIDER),
        (OAUTH + "tokens-revoked", {}, Effect.END, Reason.SESSION_REVOKED_BY_PROVIDER),
        (RISC + "account-disabled", {"reason": "hijacking"}, Effect.END, Reason.ACCOUNT_DISABLED),
        (RISC + "account-purged", {}, Effect.END, Reason.ACCOUNT_PURGED),
        (RISC + "credential-compromise", {"credential_type": "password"}, Effect.END, Reason.CREDENTIAL_COMPROMISED),
        (RISC + "account-credential-change-required", {}, Effect.END, Reason.CREDENTIAL_COMPROMISED),
        (CAEP + "credential-change", {"credential_type": "password", "change_type": "update"}, Effect.END, Reason.CREDENTIAL_CHANGED),
        (CAEP + "credential-change", {"credential_type": "fido2-roaming", "change_type": "revoke"}, Effect.END, Reason.CREDENTIAL_CHANGED),
        (CAEP + "credential-change", {"credential_type": "fido2-roaming", "change_type": "create"}, Effect.REEVALUATE, Reason.CREDENTIAL_CHANGED),
        (CAEP + "token-claims-change", {"claims": {"role": "ro-admin"}}, Effect.REEVALUATE, Reason.CLAIMS_CHANGED),
        (CAEP + "assurance-level-change", {"namespace": "NIST-AAL", "current_level": "nist-aal1", "previous_level": "nist-aal2", "change_direction": "decrease"},
         Effect.DOWNGRADE, Reason.ASSURANCE_DOWNGRADED),
        (CAEP + "assurance-level-change", {"namespace": "NIST-AAL", "current_level": "nist-aal1"}, Effect.DOWNGRADE, Reason.ASSURANCE_DOWNGRADED),
        (CAEP + "assurance-level-change", {"namespace": "NIST-AAL", "current_level": "nist-aal3", "change_direction": "increase"},
         Effect.ACKNOWLEDGE, Reason.SIGNAL_ACKNOWLEDGED),
        (CAEP + "assurance-level-change", {"namespace": "NIST-AAL"}, Effect.ACKNOWLEDGE, Reason.SIGNAL_ACKNOWLEDGED),
        (SSF + "verification", {"state": "abc"}, Effect.ACKNOWLEDGE, Reason.SIGNAL_ACKNOWLEDGED),
        (CAEP + "device-compliance-change", {"current_status": "not-compliant"}, Effect.ACKNOWLEDGE, Reason.SIGNAL_ACKNOWLEDGED),
        (RISC + "account-enabled", {}, Effect.ACKNOWLEDGE, Reason.SIGNAL_ACKNOWLEDGED),
        ("https://example.com/event-type/made-up", {}, Effect.UNKNOWN, Reason.SIGNAL_EVENT_UNKNOWN),
    ],
)  # fmt: skip
def test_each_event_type_has_its_effect(uri: str, payload: dict[str, Any], effect: Effect, reason: Reason) -> None:
    [event] = events_of({"sub_id": BOB, "events": {uri: payload}}, ISSUERS)
    assert (event.effect, event.reason, event.subject) == (effect, reason, Subject(subs=("bob",)))
    if effect is Effect.DOWNGRADE:
        assert event.acr == "nist-aal1"


def test_the_subject_comes_from_sub_id_else_from_the_event() -> None:
    claims = {"events": {RISC + "account-disabled": {"subject": BOB}, CAEP + "session-revoked": {}}}
    first, second = events_of(claims, ISSUERS)
    assert (first.subject, second.subject) == (Subject(subs=("bob",)), None)
    top = {"sub_id": {"format": "email", "email": "x@y.io"}, "events": {RISC + "account-disabled": {"subject": BOB}}}
    assert [e.subject for e in events_of(top, ISSUERS)] == [Subject(emails=("x@y.io",))]
    assert events_of(top, ISSUERS)[0].name == "account-disabled"
