"""Encryption of tokens at rest: AES-256-GCM, bound to one session by its AAD.

Contract: `TokenCipher(keys).encrypt(plaintext, aad)` gives `kid.nonce.ciphertext`
(base64url parts) under the current key; `decrypt(blob, aad)` picks the key named by
`kid`, so blobs written before a key rotation still open while the old secret is
listed. Any failure — unknown kid, malformed blob, tampering, another session's AAD —
raises `TokenDecryptError` and nothing else. The store passes the session's storage
key as AAD, so a blob copied into another session's record does not open there.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authgate.sessions.keys import SessionKeys, b64url, b64url_decode

# 96-bit random nonces (NIST SP 800-38D §8.2.2). Their collision bound allows about
# 2**32 encryptions per key; tokens are written at login and refresh only, far below
# that, and a key rotation starts a fresh budget.
_NONCE_BYTES = 12


class TokenDecryptError(Exception):
    """A token blob could not be opened (unknown key, tampered, or wrong session)."""


class TokenCipher:
    def __init__(self, keys: SessionKeys) -> None:
        self._current = keys.current.kid
        self._aeads = {k.kid: AESGCM(k.token_key) for k in keys.keys}

    def encrypt(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self._current].encrypt(nonce, plaintext, aad)
        return f"{self._current}.{b64url(nonce)}.{b64url(sealed)}"

    def decrypt(self, blob: str, aad: bytes) -> bytes:
        parts = blob.split(".") if isinstance(blob, str) else []
        if len(parts) != 3 or parts[0] not in self._aeads:
            raise TokenDecryptError("malformed blob or unknown key id")
        try:
            nonce, sealed = b64url_decode(parts[1]), b64url_decode(parts[2])
            if len(nonce) != _NONCE_BYTES:
                raise ValueError("bad nonce length")
            return self._aeads[parts[0]].decrypt(nonce, sealed, aad)
        except (InvalidTag, ValueError) as exc:
            raise TokenDecryptError("token blob does not open") from exc
