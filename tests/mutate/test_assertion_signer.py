"""The per-request assertion: claims, header, omissions, and the reuse cache."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import jwt
import pytest

from authgate.identity import Identity
from authgate.mutate.assertion import AssertionKeys, AssertionSigner
from tests.mutate.personas import alice_admin, bob_contractor, una_unverified, zoe_customer

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def keys() -> AssertionKeys:
    return AssertionKeys.generate()


def _decode(keys: AssertionKeys, token: str, audience: str = "hr") -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token,
        keys.signing.private_key.public_key(),
        algorithms=["ES256"],
        audience=audience,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return claims


def test_claims_and_header(keys: AssertionKeys) -> None:
    token = AssertionSigner(keys).sign(alice_admin, audience="hr", now=NOW, ttl=60, request_id="r")
    claims = _decode(keys, token)
    jti = claims.pop("jti")
    assert isinstance(jti, str) and len(jti) >= 20
    assert claims == {
        "iss": "authgate",
        "sub": "alice-sub",
        "aud": "hr",
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 60,
        "provider": "corp",
        "email": "alice@corp.example",
        "name": "Alice Admin",
        "preferred_username": "alice",
        "groups": ["admins", "hr-staff"],
        "roles": ["admin"],
        "acr": "urn:corp:mfa",
        "amr": ["pwd", "otp"],
    }
    assert jwt.get_unverified_header(token) == {
        "alg": "ES256",
        "kid": keys.signing.kid,
        "typ": "JWT",
    }


def test_the_session_id_never_leaves_the_gateway(keys: AssertionKeys) -> None:
    token = AssertionSigner(keys).sign(alice_admin, audience="hr", now=NOW, ttl=60, request_id="r")
    assert "sess-alice-SECRET" not in json.dumps(_decode(keys, token))


def test_empty_claims_are_omitted(keys: AssertionKeys) -> None:
    token = AssertionSigner(keys, issuer="gw").sign(
        bob_contractor, audience="api", now=NOW, ttl=30, request_id="r"
    )
    claims = _decode(keys, token, audience="api")
    assert set(claims) == {
        "iss",
        "sub",
        "aud",
        "iat",
        "nbf",
        "exp",
        "jti",
        "provider",
        "email",
        "groups",
    }
    assert claims["iss"] == "gw"


def test_unicode_claims_round_trip(keys: AssertionKeys) -> None:
    token = AssertionSigner(keys).sign(zoe_customer, audience="hr", now=NOW, ttl=60, request_id="r")
    assert _decode(keys, token)["name"] == "Zoë 山田"


# --- reuse cache ------------------------------------------------------------------


def _sign(
    signer: AssertionSigner,
    identity: Identity = alice_admin,
    *,
    audience: str = "hr",
    now: float = NOW,
    ttl: float = 60.0,
    request_id: str = "r",
) -> str:
    return signer.sign(identity, audience=audience, now=now, ttl=ttl, request_id=request_id)


def test_reused_while_more_than_half_the_ttl_remains(keys: AssertionKeys) -> None:
    signer = AssertionSigner(keys)
    first = _sign(signer)
    assert _sign(signer, now=NOW + 29.9, request_id="r2") == first
    assert _sign(signer, now=NOW + 30.0) != first


@pytest.mark.parametrize(
    "change",
    [
        {"audience": "other"},
        {"ttl": 120.0},
        {"identity": dataclasses.replace(alice_admin, groups=("admins",))},
        {"identity": dataclasses.replace(alice_admin, roles=())},
        {"identity": dataclasses.replace(alice_admin, acr="urn:corp:pwd")},
        {"identity": bob_contractor},
    ],
)
def test_a_different_token_for_different_content(
    keys: AssertionKeys, change: dict[str, Any]
) -> None:
    signer = AssertionSigner(keys)
    assert _sign(signer, **change) != _sign(signer)


def test_a_clock_that_steps_back_gets_a_fresh_token(keys: AssertionKeys) -> None:
    signer = AssertionSigner(keys)
    first = _sign(signer)
    assert _sign(signer, now=NOW - 5) != first


def test_no_reuse_when_the_cache_is_off(keys: AssertionKeys) -> None:
    signer = AssertionSigner(keys, cache_size=0)
    assert _sign(signer) != _sign(signer)


def test_the_cache_is_bounded_lru(keys: AssertionKeys) -> None:
    signer = AssertionSigner(keys, cache_size=2)
    a, b = _sign(signer, alice_admin), _sign(signer, bob_contractor)
    assert _sign(signer, alice_admin) == a  # touch alice: bob is now the oldest
    _sign(signer, zoe_customer)
    assert _sign(signer, alice_admin) == a
    assert _sign(signer, bob_contractor) != b


def test_reuse_is_much_cheaper_than_signing(keys: AssertionKeys) -> None:
    # A ratio of best-of-5 timings, not an absolute figure: shared machines drift.
    def per_call(signer: AssertionSigner) -> float:
        _sign(signer)  # warm: the one minting of the cached signer
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for i in range(100):
                _sign(signer, now=NOW + i * 0.01)
            runs.append((time.perf_counter() - start) / 100)
        return min(runs)

    assert per_call(AssertionSigner(keys)) * 5 < per_call(AssertionSigner(keys, cache_size=0))


def test_an_unverified_email_is_not_asserted(keys: AssertionKeys) -> None:
    token = AssertionSigner(keys).sign(una_unverified, audience="hr", now=NOW, ttl=60, request_id="r")
    claims = _decode(keys, token)
    assert "email" not in claims and claims["sub"] == "una-sub"
