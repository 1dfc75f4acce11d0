"""Keys of the session layer: derived from the operator's secrets, one purpose each.

Contract: `SessionKeys.from_secrets(secrets)` derives, for every configured secret, a
cookie MAC key, an AES-256 token key and a short public key id, with HKDF-SHA256
(RFC 5869) and a distinct `info` label per purpose, so no secret ever serves two
purposes directly. The first secret signs and encrypts; all of them verify and
decrypt, so a new secret is rolled in by putting it first and an old one retired by
removing it (which ends every session it signed).

The cookie carries `<session id>.<mac>`; `verify_cookie` answers the session id or
None and never raises. `csrf_token(id)` is the logout form's token, an HMAC of the
session id under its own derived key (the OWASP CSRF Prevention Cheat Sheet's
HMAC-based token, bound to the session): only a page the gateway rendered for this
session has it; `verify_csrf_token` compares in constant time and never raises. The store is keyed by `storage_key(id)`, a SHA-256 of the id,
so a leaked store dump holds nothing that can be replayed as a cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Versioned labels: changing a derivation later means a new label, never a reuse.
_COOKIE_INFO = b"authgate/v1/session-cookie-mac"
_TOKEN_INFO = b"authgate/v1/token-encryption"
_KID_INFO = b"authgate/v1/key-id"
_CSRF_INFO = b"authgate/v1/logout-csrf"

_ID_BYTES = 32  # 256 bits: unguessable (OWASP Session Management: >= 64 bits of entropy)
_MAC_CHARS = 43  # base64url of a 32-byte HMAC-SHA256, unpadded
_B64URL = r"[A-Za-z0-9_-]"
_SESSION_ID = re.compile(rf"{_B64URL}{{16,128}}")
_COOKIE = re.compile(rf"({_B64URL}{{16,128}})\.({_B64URL}{{{_MAC_CHARS}}})")
_CSRF_TOKEN = re.compile(rf"{_B64URL}{{{_MAC_CHARS}}}")


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 §5), the alphabet of cookies and blobs."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of `b64url`; raises ValueError on anything else."""
    if not re.fullmatch(rf"{_B64URL}*", text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # pragma: no cover - the regex already refused it
        raise ValueError("not unpadded base64url") from exc


def new_session_id() -> str:
    """A fresh session id: 32 random bytes, base64url (43 characters)."""
    return b64url(_random.token_bytes(_ID_BYTES))


def storage_key(session_id: str) -> str:
    """Where the store keeps a session: hex SHA-256 of its id, never the id itself."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def _derive(secret: bytes, info: bytes, length: int) -> bytes:
    # The secrets are high-entropy (>= 32 characters, checked by the config schema),
    # so HKDF without a salt is sound (RFC 5869 §3.1).
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


@dataclass(frozen=True, slots=True, repr=False)
class DerivedKey:
    """The keys derived from one operator secret. `repr` hides the key material."""

    kid: str
    cookie_mac: bytes
    token_key: bytes
    csrf_mac: bytes

    @classmethod
    def from_secret(cls, secret: str) -> DerivedKey:
        raw = secret.encode("utf-8")
        return cls(
            kid=b64url(_derive(raw, _KID_INFO, 6)),
            cookie_mac=_derive(raw, _COOKIE_INFO, 32),
            token_key=_derive(raw, _TOKEN_INFO, 32),
            csrf_mac=_derive(raw, _CSRF_INFO, 32),
        )

    def __repr__(self) -> str:
        return f"DerivedKey(kid={self.kid!r})"


def _mac(key: bytes, session_id: str) -> str:
    return b64url(hmac.new(key, session_id.encode("ascii"), hashlib.sha256).digest())


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """All derived keys, current first."""

    keys: tuple[DerivedKey, ...]

    @classmethod
    def from_secrets(cls, secrets: Sequence[str]) -> SessionKeys:
        unique = list(dict.fromkeys(secrets))  # a secret listed twice is one key
        if not unique:
            raise ValueError("at least one secret is needed")
        return cls(tuple(DerivedKey.from_secret(s) for s in unique))

    @property
    def current(self) -> DerivedKey:
        return self.keys[0]

    def by_kid(self, kid: str) -> DerivedKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def sign_session_id(self, session_id: str) -> str:
        """The cookie value for a session id: `id.mac`, MAC'd with the current key."""
        if not _SESSION_ID.fullmatch(session_id):
            raise ValueError("a session id is 16-128 base64url characters")
        return f"{session_id}.{_mac(self.current.cookie_mac, session_id)}"

    def verify_cookie(self, value: str) -> str | None:
        """The session id in a cookie whose MAC any key accepts, else None."""
        # The shape check comes first: it also keeps non-ASCII text away from
        # compare_digest, which raises on it.
        match = _COOKIE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            return None
        session_id, mac = match.groups()
        for key in self.keys:
            # Constant-time compare, so the MAC cannot be guessed byte by byte from
            # response timing (CWE-208).
            if hmac.compare_digest(_mac(key.cookie_mac, session_id), mac):
                return session_id
        return None

    def csrf_token(self, session_id: str) -> str:
        """The token a form that acts on this session must send back (current key)."""
        return _mac(self.current.csrf_mac, session_id)

    def verify_csrf_token(self, session_id: str, token: object) -> bool:
        """Whether `token` is this session's CSRF token under any key; never raises."""
        # Shape first: compare_digest raises on non-ASCII text.
        if not isinstance(token, str) or not _CSRF_TOKEN.fullmatch(token):
            return False
        # Constant time, as for the cookie MAC (CWE-208); every key, so a token
        # rendered just before a secret rotation still works.
        return any(hmac.compare_digest(_mac(key.csrf_mac, session_id), token) for key in self.keys)
