"""RFC 7638 thumbprints and P-256 JWKs, checked against published vectors and pyjwt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from authgate.mutate.jwk import ec_public_jwk, jwk_thumbprint

FILES = Path(__file__).parent / "files"


def _vector(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FILES / name).read_text())
    return data


@pytest.mark.parametrize("name", ["rfc7638-rsa.json", "rfc9449-ec.json"])
def test_published_thumbprints(name: str) -> None:
    vector = _vector(name)
    assert jwk_thumbprint(vector["jwk"]) == vector["thumbprint"]


def test_optional_members_do_not_change_the_thumbprint() -> None:
    jwk = _vector("rfc9449-ec.json")["jwk"]
    decorated = {**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}
    assert jwk_thumbprint(decorated) == jwk_thumbprint(jwk)


@pytest.mark.parametrize(
    "jwk", [{"kty": "EC", "crv": "P-256", "x": "AA"}, {"kty": "XYZ"}, {"crv": "P-256"}]
)
def test_thumbprint_rejects_incomplete_or_unknown_keys(jwk: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="required members|unsupported key type"):
        jwk_thumbprint(jwk)


def test_ec_public_jwk_matches_pyjwt_and_pads_coordinates() -> None:
    # About 1 key in 128 has an x or y shorter than 32 bytes; the JWK must still carry
    # 32 bytes (RFC 7518 §6.2.1.2). Generate until one appears.
    short = None
    for _ in range(4000):
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        numbers = key.public_numbers()
        if numbers.x < 1 << 248 or numbers.y < 1 << 248:
            short = key
            break
    assert short is not None
    ours = ec_public_jwk(short)
    theirs = json.loads(ECAlgorithm.to_jwk(short))
    assert {k: ours[k] for k in ("x", "y", "crv", "kty")} == {
        k: theirs[k] for k in ("x", "y", "crv", "kty")
    }
    assert len(ours["x"]) == len(ours["y"]) == 43  # 32 bytes, base64url, no padding


def test_ec_public_jwk_refuses_other_curves() -> None:
    with pytest.raises(TypeError, match="P-256"):
        ec_public_jwk(ec.generate_private_key(ec.SECP384R1()).public_key())
