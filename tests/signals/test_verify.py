"""SET verification: every way a Security Event Token is refused, with real keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from authgate.oidc.errors import TokenInvalid
from authgate.signals.verify import push_error, validate_set
from tests.oidc.rogue import DROP, ec_key, hs256_with_public_pem, mint, rsa_key, tampered, unsigned
from tests.oidc.test_tokens import cache_of

ISSUER = "https://tx.example.com"
AUD = "https://gateway.example.com/"
NOW = 1_700_000_000
EC = ec_key("tx-1")
RSA = rsa_key("tx-2")
OTHER = ec_key("tx-1")  # same kid, another key: a forgery
REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
SET_HEADER = {"typ": "secevent+jwt"}


def set_claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUD,
        "iat": NOW - 5,
        "jti": "set-1",
        "sub_id": {"format": "email", "email": "bob@example.com"},
        "events": {REVOKED: {"event_timestamp": NOW - 6}},
    }
    base |= changes
    return {k: v for k, v in base.items() if v is not DROP}


def signed(claims: dict[str, Any] | None = None, key: Any = EC, **header: Any) -> Callable[[], str]:
    return lambda: mint(claims or set_claims(), key, header=SET_HEADER | header)


CASES = [
    pytest.param(signed(), {}, None, id="good"),
    pytest.param(signed(key=RSA), {}, None, id="good-rsa"),
    pytest.param(signed(typ="application/secevent+jwt"), {}, None, id="typ-media-type"),
    pytest.param(signed(typ="SecEvent+JWT"), {}, None, id="typ-case-insensitive"),
    pytest.param(signed(key=OTHER), {}, "token-signature-invalid", id="forged-signature"),
    pytest.param(lambda: tampered(signed()(), jti="set-2"), {}, "token-signature-invalid", id="tampered"),
    pytest.param(lambda: unsigned(set_claims(), kid="tx-1"), {}, "token-alg-not-allowed", id="alg-none"),
    pytest.param(lambda: hs256_with_public_pem(set_claims(), RSA), {}, "token-alg-not-allowed", id="hs256-confusion"),
    pytest.param(signed(key=RSA), {"algorithms": ["ES256"]}, "token-alg-not-allowed", id="alg-not-configured"),
    pytest.param(signed(kid="tx-9"), {}, "token-kid-unknown", id="kid-unknown"),
    pytest.param(signed(typ=None), {}, "token-type-invalid", id="typ-missing"),
    pytest.param(signed(typ=None), {"require_typ": False}, None, id="typ-missing-allowed"),
    pytest.param(signed(typ="JWT"), {"require_typ": False}, "token-type-invalid", id="typ-jwt"),
    pytest.param(signed(typ="logout+jwt"), {}, "token-type-invalid", id="typ-logout-token"),
    pytest.param(signed(set_claims(iss="https://evil.example")), {}, "token-issuer-invalid", id="iss"),
    pytest.param(signed(set_claims(iss=ISSUER + "/")), {}, "token-issuer-invalid", id="iss-exact"),
    pytest.param(signed(set_claims(aud="https://other.example/")), {}, "token-audience-invalid", id="aud"),
    pytest.param(signed(set_claims(aud=["x", AUD])), {}, None, id="aud-list"),
    pytest.param(signed(set_claims(aud=DROP)), {}, "token-claim-missing", id="aud-missing"),
    pytest.param(signed(set_claims(iat=DROP)), {}, "token-claim-missing", id="iat-missing"),
    pytest.param(signed(set_claims(iat=NOW + 600)), {}, "token-iat-invalid", id="iat-future"),
    pytest.param(signed(set_claims(iat=NOW - 4000)), {}, "token-expired", id="iat-too-old"),
    pytest.param(signed(set_claims(iat=NOW - 3000)), {}, None, id="iat-within-max-age"),
    pytest.param(signed(set_claims(exp=NOW - 120)), {}, "token-expired", id="exp-passed"),
    pytest.param(signed(set_claims(jti=DROP)), {}, "token-claim-missing", id="jti-missing"),
    pytest.param(signed(set_claims(jti=7)), {}, "token-malformed", id="jti-number"),
    pytest.param(signed(set_claims(events=DROP)), {}, "token-claim-missing", id="events-missing"),
    pytest.param(signed(set_claims(events={})), {}, "token-events-invalid", id="events-empty"),
    pytest.param(signed(set_claims(events=[REVOKED])), {}, "token-events-invalid", id="events-list"),
    pytest.param(signed(set_claims(events={REVOKED: "x"})), {}, "token-events-invalid", id="event-not-object"),
    pytest.param(lambda: "not.a.jwt", {}, "token-malformed", id="junk"),
]


@pytest.mark.parametrize(("make", "options", "expected"), CASES)
async def test_set_validation(make: Callable[[], str], options: dict[str, Any], expected: str | None) -> None:
    kwargs: dict[str, Any] = {
        "issuer": ISSUER, "audience": AUD, "algorithms": ["ES256", "RS256"], "leeway": 60.0,
        "max_age": 3600.0, "now": NOW,
    } | options  # fmt: skip
    jwks = cache_of([EC, RSA])
    if expected is None:
        assert (await validate_set(make(), jwks, **kwargs))["jti"] == "set-1"
        return
    with pytest.raises(TokenInvalid) as caught:
        await validate_set(make(), jwks, **kwargs)
    assert caught.value.reason == expected


@pytest.mark.parametrize(
    ("reason", "err"),
    [
        ("token-signature-invalid", "invalid_key"), ("token-kid-unknown", "invalid_key"),
        ("token-alg-not-allowed", "invalid_key"), ("token-issuer-invalid", "invalid_issuer"),
        ("token-audience-invalid", "invalid_audience"),
        ("signal-authentication-failed", "authentication_failed"),
        ("token-replayed", "invalid_request"), ("token-expired", "invalid_request"),
        ("signal-invalid", "invalid_request"), ("token-malformed", "invalid_request"),
    ],
)  # fmt: skip
def test_push_errors_are_rfc_8935_codes(reason: str, err: str) -> None:
    assert push_error(reason) == err
