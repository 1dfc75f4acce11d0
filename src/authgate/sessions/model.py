"""The session value and its flat record form (a Redis hash, field -> text).

Contract: `Session` and `Tokens` are frozen values. A session ends at the first of
its absolute end (`expires_at` = created + max_lifetime) and its idle end
(`last_seen + idle_timeout`); `expired(now, idle_timeout)` says which is passed, from
the stored times and the caller's clock only. `verified_at` is when the provider last
vouched for the identity (login, refresh, userinfo re-verification). `to_record` / `from_record` convert a
session to a flat `dict[str, str]` and back: identity as compact JSON in clear (not
secret; logs and indexes need it), tokens as JSON encrypted by `TokenCipher` with the
storage key as AAD. The raw session id is never part of the record. `from_record`
raises `RecordError` on a malformed record and `TokenDecryptError` when the tokens
do not open.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authgate.identity import Identity
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import new_session_id

RECORD_VERSION = "1"
# Fields of an Identity that never go into a record: the session id is the bearer
# credential the store must not hold; the credential kind of a session is "session".
_IDENTITY_SKIP = frozenset({"session_id", "credential"})
_IDENTITY_FIELDS = {f.name: f for f in dataclasses.fields(Identity)}
_TUPLE_FIELDS = frozenset(f.name for f in _IDENTITY_FIELDS.values() if f.default == ())
# Identity fields `oidc.claims` usually copies verbatim from a standard claim. When the
# copy is exact the record keeps only the claim and re-derives the field on load:
# about a third of a typical record, towards the 1 KB per session target (DESIGN.md).
_FROM_CLAIM = {
    "subject": "sub",
    "email": "email",
    "email_verified": "email_verified",
    "name": "name",
    "username": "preferred_username",
    "groups": "groups",
    "acr": "acr",
    "amr": "amr",
    "auth_time": "auth_time",
}
_ABSENT = object()


class RecordError(ValueError):
    """A stored record is not a session this version can read."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """The provider's tokens for one session. `repr` never shows them."""

    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    access_expires_at: float | None = None

    def access_expires_within(self, now: float, seconds: float) -> bool:
        """True when the access token ends within `seconds` (unknown end: False)."""
        return self.access_expires_at is not None and self.access_expires_at - now <= seconds


@dataclass(frozen=True, slots=True)
class Session:
    """A gateway session. `identity.session_id` always equals `id`."""

    id: str  # the bearer credential in the cookie: never log it
    identity: Identity
    tokens: Tokens
    provider_sid: str | None
    created_at: float
    last_seen: float
    expires_at: float  # absolute end: created_at + max_lifetime
    # When the provider last vouched for this identity: the login, then each refresh
    # or userinfo re-verification (docs/continuous.md). 0: created_at (old records).
    verified_at: float = 0.0

    def __post_init__(self) -> None:
        if not self.verified_at:
            object.__setattr__(self, "verified_at", self.created_at)
        if self.identity.session_id != self.id or self.identity.credential != "session":
            fixed = dataclasses.replace(self.identity, session_id=self.id, credential="session")
            object.__setattr__(self, "identity", fixed)

    @classmethod
    def begin(
        cls,
        identity: Identity,
        tokens: Tokens,
        *,
        now: float,
        max_lifetime: float,
        provider_sid: str | None = None,
    ) -> Session:
        """A new session with a fresh random id, starting at `now`."""
        return cls(new_session_id(), identity, tokens, provider_sid, now, now, now + max_lifetime)

    def idle_ends_at(self, idle_timeout: float) -> float:
        return self.last_seen + idle_timeout

    def ends_at(self, idle_timeout: float) -> float:
        """When the session ends if nothing touches it again."""
        return min(self.expires_at, self.idle_ends_at(idle_timeout))

    def idle_expired(self, now: float, idle_timeout: float) -> bool:
        return now >= self.idle_ends_at(idle_timeout)

    def expired(self, now: float, idle_timeout: float) -> bool:
        return now >= self.expires_at or self.idle_expired(now, idle_timeout)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _derived(name: str, claims: Mapping[str, Any]) -> Any:
    """Field `name` as it would be copied from its standard claim, or `_ABSENT`."""
    claim = _FROM_CLAIM.get(name)
    if claim is None or claim not in claims:
        return _ABSENT
    value = claims[claim]
    if name in _TUPLE_FIELDS:
        strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return tuple(value) if strings else _ABSENT
    if name == "auth_time":  # an int in the token, a float in Identity
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if number else _ABSENT
    return value


def _kept(name: str, value: object, claims: Mapping[str, Any]) -> bool:
    """Whether the record must hold this field (not default, not re-derivable)."""
    derived = _derived(name, claims)
    if derived is not _ABSENT:
        return type(derived) is not type(value) or derived != value
    return value not in (None, (), {})


def identity_to_json(identity: Identity) -> str:
    """Compact JSON of an identity, without defaults and fields its claims repeat."""
    data = {
        name: getattr(identity, name)
        for name in _IDENTITY_FIELDS
        if name not in _IDENTITY_SKIP and _kept(name, getattr(identity, name), identity.claims)
    }
    return _compact(data)


def identity_from_json(text: str, session_id: str) -> Identity:
    data = json.loads(text)
    # Fields this version does not know (written by a newer replica) are dropped, so a
    # rolling upgrade does not end sessions.
    known = {k: v for k, v in data.items() if k in _IDENTITY_FIELDS and k not in _IDENTITY_SKIP}
    claims = known.get("claims", {})
    for name in _FROM_CLAIM.keys() - known.keys():
        if (derived := _derived(name, claims)) is not _ABSENT:
            known[name] = derived
    for name in _TUPLE_FIELDS & known.keys():
        known[name] = tuple(known[name])
    return Identity(credential="session", session_id=session_id, **known)


def _tokens_plaintext(tokens: Tokens) -> bytes:
    data = {
        "a": tokens.access_token,
        "r": tokens.refresh_token,
        "i": tokens.id_token,
        "e": tokens.access_expires_at,
    }
    return _compact({k: v for k, v in data.items() if v is not None}).encode()


def _tokens_from_plaintext(plaintext: bytes) -> Tokens:
    data = json.loads(plaintext)
    return Tokens(data.get("a"), data.get("r"), data.get("i"), data.get("e"))


def encrypt_tokens(tokens: Tokens, cipher: TokenCipher, aad: str) -> str:
    return cipher.encrypt(_tokens_plaintext(tokens), aad.encode())


def decrypt_tokens(blob: str, cipher: TokenCipher, aad: str) -> Tokens:
    return _tokens_from_plaintext(cipher.decrypt(blob, aad.encode()))


def to_record(session: Session, cipher: TokenCipher, storage_key: str) -> dict[str, str]:
    """The flat record of a session; `storage_key` is the AAD of its tokens."""
    record = {
        "v": RECORD_VERSION,
        "identity": identity_to_json(session.identity),
        "tokens": encrypt_tokens(session.tokens, cipher, storage_key),
        "created": repr(session.created_at),
        "seen": repr(session.last_seen),
        "expires": repr(session.expires_at),
    }
    if session.provider_sid is not None:
        record["psid"] = session.provider_sid
    if session.verified_at != session.created_at:
        record["verified"] = repr(session.verified_at)
    return record


def from_record(
    session_id: str, record: Mapping[str, str], cipher: TokenCipher, storage_key: str
) -> Session:
    """The session in a record (see the module contract for the errors)."""
    if record.get("v") != RECORD_VERSION:
        raise RecordError(f"unknown record version {record.get('v')!r}")
    try:
        identity = identity_from_json(record["identity"], session_id)
        times = float(record["created"]), float(record["seen"]), float(record["expires"])
        verified = float(record.get("verified", times[0]))
        blob = record["tokens"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError(f"malformed session record: {exc}") from exc
    try:
        tokens = decrypt_tokens(blob, cipher, storage_key)
    except (TypeError, ValueError, AttributeError) as exc:  # opened, yet not our JSON
        raise RecordError("malformed tokens") from exc
    return Session(session_id, identity, tokens, record.get("psid"), *times, verified)
