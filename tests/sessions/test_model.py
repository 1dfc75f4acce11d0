"""The session value: expiry arithmetic and the flat record (what Redis holds)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from authgate.identity import Identity
from authgate.sessions.cipher import TokenCipher, TokenDecryptError
from authgate.sessions.keys import storage_key
from authgate.sessions.model import (
    RecordError,
    Tokens,
    from_record,
    identity_from_json,
    identity_to_json,
    to_record,
)
from tests.sessions.conftest import NewSession
from tests.sessions.personas import IDLE, MAX_LIFETIME, alice, jwt_shaped


def test_expiry_arithmetic(new_session: NewSession) -> None:
    s = new_session()
    t0 = s.created_at
    assert not s.expired(t0 + IDLE - 0.001, IDLE)
    assert s.idle_expired(t0 + IDLE, IDLE) and s.expired(t0 + IDLE, IDLE)
    seen = dataclasses.replace(s, last_seen=t0 + MAX_LIFETIME - 10)
    assert not seen.idle_expired(t0 + MAX_LIFETIME, IDLE)
    assert seen.expired(t0 + MAX_LIFETIME, IDLE)  # the absolute end wins
    assert seen.ends_at(IDLE) == s.expires_at == t0 + MAX_LIFETIME


def test_identity_always_names_its_session(new_session: NewSession) -> None:
    s = new_session(alice())  # alice() has no session_id
    assert s.identity.session_id == s.id and s.identity.credential == "session"


def test_reprs_hide_the_tokens(new_session: NewSession) -> None:
    s = new_session(tokens=Tokens("secret-at", "secret-rt", "secret-idt", 1.0))
    assert "secret-" not in repr(s)


def test_record_round_trip(new_session: NewSession, cipher: TokenCipher) -> None:
    s = new_session()
    key = storage_key(s.id)
    record = to_record(s, cipher, key)
    assert all(isinstance(v, str) for v in record.values())
    assert from_record(s.id, record, cipher, key) == s


def test_record_holds_no_session_id_and_no_clear_token(
    new_session: NewSession, cipher: TokenCipher
) -> None:
    s = new_session(tokens=Tokens("clear-access", "clear-refresh", "clear-id", None))
    text = json.dumps(to_record(s, cipher, storage_key(s.id)))
    assert s.id not in text and "clear-" not in text
    assert "alice@corp.example.com" in text  # identity is in clear, on purpose


def test_identity_json_is_compact_and_tolerant() -> None:
    minimal = dataclasses.replace(alice(), groups=(), roles=(), claims={}, email_verified=False)
    data = json.loads(identity_to_json(minimal))
    assert "groups" not in data and "claims" not in data and "credential" not in data
    assert data["email_verified"] is False  # False is a value, not an absence
    data["added_by_a_newer_version"] = 1
    back = identity_from_json(json.dumps(data), "sid-x")
    assert back == dataclasses.replace(minimal, session_id="sid-x")


def test_tokens_of_another_session_do_not_open(
    new_session: NewSession, cipher: TokenCipher
) -> None:
    a, b = new_session(), new_session()
    record = to_record(b, cipher, storage_key(b.id))
    record["tokens"] = to_record(a, cipher, storage_key(a.id))["tokens"]
    with pytest.raises(TokenDecryptError):
        from_record(b.id, record, cipher, storage_key(b.id))


@pytest.mark.parametrize(
    "identity",
    [
        pytest.param(alice(), id="fields-copied-from-claims"),
        pytest.param(dataclasses.replace(alice(), groups=("from-roles",)), id="groups-mapped"),
        pytest.param(dataclasses.replace(alice(), email=None), id="field-none-claim-set"),
        pytest.param(dataclasses.replace(alice(), groups=()), id="field-empty-claim-set"),
        pytest.param(dataclasses.replace(alice(), claims={}), id="no-claims"),
        pytest.param(
            dataclasses.replace(alice(), claims={**alice().claims, "email_verified": "true"}),
            id="claim-of-another-type",
        ),
        pytest.param(
            dataclasses.replace(alice(), claims={**alice().claims, "groups": "one-string"}),
            id="claim-not-a-list",
        ),
        pytest.param(
            dataclasses.replace(
                alice(), groups=(), mistyped=("groups",), claims={**alice().claims, "groups": "g"}
            ),
            id="mistyped-membership",
        ),
    ],
)
def test_identity_json_round_trips_exactly(identity: Identity) -> None:
    back = identity_from_json(identity_to_json(identity), "sid-x")
    assert back == dataclasses.replace(identity, session_id="sid-x")
    assert type(back.auth_time) is float and type(back.groups) is tuple


def test_fields_the_claims_repeat_are_stored_once() -> None:
    data = json.loads(identity_to_json(alice()))
    assert "email" not in data and "groups" not in data and "subject" not in data
    assert data["roles"] == ["employee", "hr-reader"]  # not a copy of a claim: kept
    mapped = json.loads(identity_to_json(dataclasses.replace(alice(), email=None)))
    assert mapped["email"] is None  # None must not be re-derived from the claim


@pytest.mark.parametrize(
    "change",
    [
        {"v": "0"},
        {"identity": "{not json"},
        {"identity": "[]"},
        {"identity": '{"provider": "corp"}'},  # no subject
        {"seen": "yesterday"},
    ],
)
def test_malformed_record_raises_record_error(
    new_session: NewSession, cipher: TokenCipher, change: dict[str, str]
) -> None:
    s = new_session()
    record = to_record(s, cipher, storage_key(s.id)) | change
    with pytest.raises(RecordError):
        from_record(s.id, record, cipher, storage_key(s.id))


def test_missing_field_raises_record_error(new_session: NewSession, cipher: TokenCipher) -> None:
    s = new_session()
    record = to_record(s, cipher, storage_key(s.id))
    del record["expires"]
    with pytest.raises(RecordError):
        from_record(s.id, record, cipher, storage_key(s.id))


@pytest.mark.parametrize(
    ("label", "tokens", "limit"),
    [
        ("opaque tokens", Tokens("x" * 43, "y" * 43, None, 1767229200.0), 1024),
        ("JWTs, 800 B each", Tokens(jwt_shaped(), jwt_shaped(), jwt_shaped(), 1767229200.0), 4096),
    ],
)
def test_serialized_record_size(
    new_session: NewSession, cipher: TokenCipher, label: str, tokens: Tokens, limit: int
) -> None:
    s = new_session(tokens=tokens)
    record = to_record(s, cipher, storage_key(s.id))
    size = sum(len(k) + len(v.encode()) for k, v in record.items())
    sizes = {k: len(v.encode()) for k, v in record.items()}
    print(f"\nrecord with {label}: {size} bytes of fields+values; {sizes}")
    assert size <= limit
