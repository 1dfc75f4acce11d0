"""AssertionVerifier: what is accepted, what is refused and why, and JWKS refetching."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate.mutate.assertion import AssertionKeys, AssertionSigner
from authgate.upstream import REASONS, AssertionInvalid, AssertionVerifier
from tests.mutate.personas import alice_admin
from tests.upstream.conftest import AUDIENCE, FakeClock, JwksServer, craft


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj).encode())


def _static(keys: AssertionKeys, **kw: Any) -> AssertionVerifier:
    return AssertionVerifier(jwks=keys.jwks(), audience=AUDIENCE, **kw)


async def _reason(verifier: AssertionVerifier, token: str) -> str:
    with pytest.raises(AssertionInvalid) as caught:
        await verifier.verify(token)
    assert caught.value.reason in REASONS
    return caught.value.reason


async def test_a_gateway_token_verifies(keys: AssertionKeys, good_token: str) -> None:
    claims = await _static(keys).verify(good_token)
    assert claims["sub"] == "alice-sub"
    assert claims["groups"] == ["admins", "hr-staff"]
    assert claims["aud"] == AUDIENCE


def _kid(keys: AssertionKeys) -> dict[str, str]:
    return {"kid": keys.signing.kid}


def _signing_key(keys: AssertionKeys) -> ec.EllipticCurvePrivateKey:
    return keys.signing.private_key


class FromNow(int):
    """A time claim given as seconds from the moment the test runs (not collection:
    a long suite would otherwise reach a 'future' time before the test runs)."""


CLAIM_CASES = [
    ({"exp": FromNow(-120)}, "expired"),
    ({"nbf": FromNow(120)}, "not-yet-valid"),
    ({"iat": FromNow(120)}, "not-yet-valid"),
    ({"aud": "payroll"}, "wrong-audience"),
    ({"aud": ["payroll", "crm"]}, "wrong-audience"),
    ({"iss": "https://evil.example"}, "wrong-issuer"),
    ({"exp": None}, "missing-claim"),
    ({"iat": None}, "missing-claim"),
    ({"aud": None}, "missing-claim"),
    ({"iss": None}, "missing-claim"),
    ({"sub": None}, "missing-claim"),
]


@pytest.mark.parametrize(("overrides", "reason"), CLAIM_CASES)
async def test_claims_are_checked(
    keys: AssertionKeys, overrides: dict[str, Any], reason: str
) -> None:
    now = int(time.time())
    claims = {k: now + v if isinstance(v, FromNow) else v for k, v in overrides.items()}
    token = craft(_signing_key(keys), headers=_kid(keys), **claims)
    assert await _reason(_static(keys), token) == reason


async def test_skew_within_leeway_is_tolerated(keys: AssertionKeys) -> None:
    token = craft(_signing_key(keys), headers=_kid(keys), exp=int(time.time()) - 10)
    assert (await _static(keys, leeway=30).verify(token))["sub"] == "alice-sub"
    assert await _reason(_static(keys, leeway=0, cache_size=0), token) == "expired"


async def test_alg_none_is_refused(keys: AssertionKeys) -> None:
    header = _segment({"alg": "none", "typ": "JWT", "kid": keys.signing.kid})
    payload = _segment({"iss": "authgate", "sub": "admin", "aud": AUDIENCE, "iat": 1, "exp": 2**40})
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        assert await _reason(_static(keys), token) in {"algorithm-not-allowed", "malformed"}
    assert await _reason(_static(keys), f"{header}.{payload}.") == "algorithm-not-allowed"


async def test_hs256_signed_with_the_public_key_is_refused(keys: AssertionKeys) -> None:
    # CVE-2015-9235: a verifier that lets the token pick HMAC would use the public
    # key bytes, which every attacker has, as the shared secret.
    public_pem = keys.signing.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_jwk_bytes = json.dumps(keys.jwks()["keys"][0]).encode()
    for secret in (public_pem, public_jwk_bytes):
        header = _segment({"alg": "HS256", "typ": "JWT", "kid": keys.signing.kid})
        now = int(time.time())
        payload = _segment(
            {"iss": "authgate", "sub": "admin", "aud": AUDIENCE, "iat": now, "exp": now + 60}
        )
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        token = f"{header}.{payload}.{_b64(signature)}"
        assert await _reason(_static(keys), token) == "algorithm-not-allowed"


async def test_other_asymmetric_algorithms_are_refused(keys: AssertionKeys) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = craft(rsa_key, algorithm="RS256", headers=_kid(keys))
    assert await _reason(_static(keys), token) == "algorithm-not-allowed"
    p384 = ec.generate_private_key(ec.SECP384R1())
    token = craft(p384, algorithm="ES384", headers=_kid(keys))
    assert await _reason(_static(keys), token) == "algorithm-not-allowed"


async def test_a_foreign_key_with_the_gateway_kid_is_refused(keys: AssertionKeys) -> None:
    attacker = ec.generate_private_key(ec.SECP256R1())
    assert await _reason(_static(keys), craft(attacker, headers=_kid(keys))) == "bad-signature"


async def test_a_tampered_payload_is_refused(keys: AssertionKeys, good_token: str) -> None:
    header, payload, signature = good_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["admins", "root"]
    tampered = f"{header}.{_segment(claims)}.{signature}"
    assert await _reason(_static(keys), tampered) == "bad-signature"
    flipped = (
        f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    )
    assert await _reason(_static(keys), flipped) == "bad-signature"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "x" * 20_000, "....."])
async def test_malformed_tokens(keys: AssertionKeys, token: str) -> None:
    assert await _reason(_static(keys), token) == "malformed"


async def test_a_token_without_kid_is_refused(keys: AssertionKeys) -> None:
    assert await _reason(_static(keys), craft(_signing_key(keys))) == "malformed"


async def test_unknown_kid_without_a_url(keys: AssertionKeys) -> None:
    token = craft(_signing_key(keys), headers={"kid": "not-published"})
    assert await _reason(_static(keys), token) == "unknown-kid"


def test_a_verifier_needs_keys_from_somewhere() -> None:
    with pytest.raises(ValueError, match="jwks_url"):
        AssertionVerifier(audience=AUDIENCE)


# --- verified-token cache ---------------------------------------------------------


async def test_results_are_cached_but_copies(keys: AssertionKeys, good_token: str) -> None:
    verifier = _static(keys)
    first = await verifier.verify(good_token)
    first["groups"].append("root")
    first["sub"] = "mallory"
    second = await verifier.verify(good_token)
    assert second["sub"] == "alice-sub" and second["groups"] == ["admins", "hr-staff"]


async def test_a_cached_token_still_expires(
    keys: AssertionKeys, good_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = _static(keys, leeway=0)
    claims = await verifier.verify(good_token)
    monkeypatch.setattr(time, "time", lambda: claims["exp"] + 1.0)
    assert await _reason(verifier, good_token) == "expired"


# --- JWKS over HTTP ---------------------------------------------------------------


def _remote(server: JwksServer, clock: FakeClock, **kw: Any) -> AssertionVerifier:
    return AssertionVerifier(server.url, audience=AUDIENCE, clock=clock, **kw)


async def test_keys_are_fetched_once_and_cached(
    jwks_server: JwksServer, clock: FakeClock, good_token: str
) -> None:
    verifier = _remote(jwks_server, clock, cache_size=0)
    for _ in range(5):
        await verifier.verify(good_token)
    assert jwks_server.hits == 1


async def test_unknown_kid_refetches_at_most_once_per_interval(
    jwks_server: JwksServer, clock: FakeClock, keys: AssertionKeys, good_token: str
) -> None:
    verifier = _remote(jwks_server, clock, refetch_interval=60)
    await verifier.verify(good_token)
    assert jwks_server.hits == 1
    clock.now += 61
    forged = [craft(_signing_key(keys), headers={"kid": f"forged-{i}"}) for i in range(20)]
    results = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    assert all(isinstance(r, AssertionInvalid) and r.reason == "unknown-kid" for r in results)
    assert jwks_server.hits == 2  # twenty unknown kids, one fetch
    clock.now += 59
    assert await _reason(verifier, forged[0]) == "unknown-kid"
    assert jwks_server.hits == 2  # still inside the interval
    clock.now += 1
    assert await _reason(verifier, forged[0]) == "unknown-kid"
    assert jwks_server.hits == 3
    assert verifier.fetch_count == 3


async def test_gateway_key_rotation_is_picked_up(
    jwks_server: JwksServer, clock: FakeClock, keys: AssertionKeys, tmp_path: Any
) -> None:
    from authgate.mutate.assertion import rotate_key_file

    path = tmp_path / "assertion.pem"
    old = AssertionKeys.load_or_create(path)
    jwks_server.jwks = old.jwks()
    old_token = AssertionSigner(old).sign(
        alice_admin, audience=AUDIENCE, now=time.time(), ttl=60, request_id="r"
    )
    verifier = _remote(jwks_server, clock)
    await verifier.verify(old_token)

    rotate_key_file(path)
    new = AssertionKeys.load_or_create(path)
    jwks_server.jwks = new.jwks()
    clock.now += 60
    new_token = AssertionSigner(new).sign(
        alice_admin, audience=AUDIENCE, now=time.time(), ttl=60, request_id="r"
    )

    assert (await verifier.verify(new_token))["sub"] == "alice-sub"
    assert (await verifier.verify(old_token))["sub"] == "alice-sub"  # the overlap
    assert jwks_server.hits == 2


async def test_a_retired_key_stops_verifying_after_max_age(
    jwks_server: JwksServer, clock: FakeClock, keys: AssertionKeys
) -> None:
    verifier = _remote(jwks_server, clock, max_age=3600, cache_size=0)
    token = craft(_signing_key(keys), headers=_kid(keys))
    await verifier.verify(token)
    jwks_server.jwks = AssertionKeys.generate().jwks()  # the gateway dropped the key
    clock.now += 3599
    await verifier.verify(token)
    clock.now += 1
    assert await _reason(verifier, token) == "unknown-kid"
    assert jwks_server.hits == 2


async def test_a_failed_refresh_keeps_the_known_keys(
    jwks_server: JwksServer, clock: FakeClock, good_token: str
) -> None:
    verifier = _remote(jwks_server, clock, max_age=10, cache_size=0)
    await verifier.verify(good_token)
    jwks_server.status = 503
    clock.now += 100
    assert (await verifier.verify(good_token))["sub"] == "alice-sub"
    assert jwks_server.hits == 2


async def test_an_unreachable_jwks_is_reported(
    jwks_server: JwksServer, clock: FakeClock, good_token: str
) -> None:
    jwks_server.status = 500
    verifier = _remote(jwks_server, clock)
    assert await _reason(verifier, good_token) == "jwks-unavailable"
    assert await _reason(verifier, good_token) == "unknown-kid"  # no refetch storm
    assert jwks_server.hits == 1
