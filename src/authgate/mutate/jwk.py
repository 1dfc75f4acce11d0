"""JSON Web Keys for the assertion: EC P-256 public JWKs and RFC 7638 thumbprints.

Contract: `ec_public_jwk(key)` gives the RFC 7518 §6.2.1 members of a P-256 public key
with `x` and `y` as fixed 32-byte big-endian values (a shorter integer is left-padded,
as §6.2.1.2 requires — a frequent interop bug). `jwk_thumbprint(jwk)` is the RFC 7638
thumbprint (SHA-256, base64url without padding) for EC, RSA, OKP and oct keys; the
gateway uses it as `kid`, so a kid names exactly one key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import ec

# RFC 7638 §3.2: the required members per key type; nothing else is hashed.
_REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),  # RFC 8037 §2
    "oct": ("k", "kty"),
}
_P256_BYTES = 32


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ec_public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK members (kty, crv, x, y) of a P-256 key."""
    if not isinstance(key.curve, ec.SECP256R1):
        raise TypeError(f"not a P-256 key: {key.curve.name}")
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(_P256_BYTES, "big")),
        "y": b64url(numbers.y.to_bytes(_P256_BYTES, "big")),
    }


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint with SHA-256, base64url-encoded."""
    members = _REQUIRED_MEMBERS.get(jwk.get("kty", ""))
    if members is None:
        raise ValueError(f"unsupported key type: {jwk.get('kty')!r}")
    missing = [m for m in members if m not in jwk]
    if missing:
        raise ValueError(f"JWK lacks required members: {missing}")
    # §3.3: members in lexicographic order, no whitespace, UTF-8.
    required = {m: jwk[m] for m in members}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())
