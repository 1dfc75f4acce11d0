"""Server-issued DPoP nonces (RFC 9449 §8-9), the same in every replica.

Contract: `DpopNonces.from_secrets(secrets)` derives one HMAC key per configured
secret (HKDF-SHA256, its own `info` label: no secret serves two purposes directly).
`issue(now)` answers `<epoch seconds>.<base64url HMAC-SHA256, 128 bits>` under the
first key; `fresh(nonce, now, max_age, skew)` is True for a nonce any key made at
most `max_age` seconds ago (and not more than `skew` ahead: another replica's clock).
Stateless on purpose: replicas behind one load balancer share the secret, so a
nonce one of them gave is good at all of them, with no store round trip; the `jti`
replay cache (`resource.binding`) is what stops a proof being used twice. The nonce
bounds how far back a client can pre-compute proofs (§11.2) — the point of §8.
No I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authgate.sessions.keys import b64url

_INFO = b"authgate/v1/dpop-nonce"
_MAC_BYTES = 16


def _derive(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())


@dataclass(frozen=True, slots=True)
class DpopNonces:
    keys: tuple[bytes, ...]  # the first issues, every one verifies (secret rotation)

    @classmethod
    def from_secrets(cls, secrets: Sequence[str]) -> DpopNonces:
        return cls(tuple(_derive(secret) for secret in secrets))

    def issue(self, now: float) -> str:
        stamp = str(int(now))
        return f"{stamp}.{self._mac(self.keys[0], stamp)}"

    def fresh(self, nonce: str, now: float, max_age: float, skew: float) -> bool:
        stamp, dot, mac = nonce.partition(".")
        if not dot or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
            return False
        issued = int(stamp)
        if issued < now - max_age or issued > now + skew:
            return False
        return any(hmac.compare_digest(mac, self._mac(key, stamp)) for key in self.keys)

    @staticmethod
    def _mac(key: bytes, stamp: str) -> str:
        return b64url(hmac.new(key, stamp.encode(), hashlib.sha256).digest()[:_MAC_BYTES])
