"""Token encryption: AES-GCM blobs bound to their session, readable across rotation."""

from __future__ import annotations

import pytest

from authgate.sessions.cipher import TokenCipher, TokenDecryptError
from authgate.sessions.keys import SessionKeys, b64url, b64url_decode
from tests.sessions.personas import SECRET_NEW, SECRET_OLD

AAD = b"storage-key-of-session-a"


def test_round_trip_and_shape(cipher: TokenCipher, keys: SessionKeys) -> None:
    blob = cipher.encrypt(b"refresh-token", AAD)
    kid, nonce, sealed = blob.split(".")
    assert kid == keys.current.kid
    assert len(b64url_decode(nonce)) == 12
    assert len(b64url_decode(sealed)) == len(b"refresh-token") + 16  # GCM tag
    assert b"refresh-token" not in blob.encode()
    assert cipher.decrypt(blob, AAD) == b"refresh-token"


def test_every_encryption_has_a_fresh_nonce(cipher: TokenCipher) -> None:
    blobs = {cipher.encrypt(b"same", AAD) for _ in range(100)}
    assert len({b.split(".")[1] for b in blobs}) == 100


def test_blob_copied_to_another_session_does_not_open(cipher: TokenCipher) -> None:
    blob = cipher.encrypt(b"token", AAD)
    with pytest.raises(TokenDecryptError):
        cipher.decrypt(blob, b"storage-key-of-session-b")


def _tamper_sealed(blob: str) -> str:
    kid, nonce, sealed = blob.split(".")
    raw = bytearray(b64url_decode(sealed))
    raw[0] ^= 1
    return f"{kid}.{nonce}.{b64url(bytes(raw))}"


def _tamper_nonce(blob: str) -> str:
    kid, nonce, sealed = blob.split(".")
    raw = bytearray(b64url_decode(nonce))
    raw[-1] ^= 1
    return f"{kid}.{b64url(bytes(raw))}.{sealed}"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_tamper_sealed, id="ciphertext-bit"),
        pytest.param(_tamper_nonce, id="nonce-bit"),
        pytest.param(lambda b: b[:-4], id="truncated"),
        pytest.param(lambda b: "AAAAAAAA" + b[8:], id="unknown-kid"),
        pytest.param(lambda b: b.rsplit(".", 1)[0], id="two-parts"),
        pytest.param(lambda b: b + ".x", id="four-parts"),
        pytest.param(lambda b: b.replace(".", ".!", 1), id="bad-base64"),
        pytest.param(lambda b: b.split(".")[0] + ".AAAA." + b.split(".")[2], id="short-nonce"),
        pytest.param(lambda b: "", id="empty"),
    ],
)
def test_tampered_blob_raises_decrypt_error(cipher: TokenCipher, tamper: object) -> None:
    assert callable(tamper)
    with pytest.raises(TokenDecryptError):
        cipher.decrypt(tamper(cipher.encrypt(b"token", AAD)), AAD)


def test_rotation() -> None:
    old = TokenCipher(SessionKeys.from_secrets([SECRET_OLD]))
    rotated = TokenCipher(SessionKeys.from_secrets([SECRET_NEW, SECRET_OLD]))
    retired = TokenCipher(SessionKeys.from_secrets([SECRET_NEW]))
    blob = old.encrypt(b"token", AAD)
    assert rotated.decrypt(blob, AAD) == b"token"  # old blobs still open
    fresh = rotated.encrypt(b"token", AAD)
    assert retired.decrypt(fresh, AAD) == b"token"  # new blobs use the first secret
    with pytest.raises(TokenDecryptError):
        retired.decrypt(blob, AAD)
