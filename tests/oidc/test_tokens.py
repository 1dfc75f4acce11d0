"""Token validation tables: every `TokenInvalid` reason, forged by the rogue helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from authgate.oidc.errors import TOKEN_REASONS, TokenInvalid
from authgate.oidc.jwks import JwksCache
from authgate.oidc.tokens import (
    BACKCHANNEL_LOGOUT_EVENT,
    validate_access_token,
    validate_id_token,
    validate_logout_token,
    validate_refreshed_id_token,
)
from tests.oidc.rogue import (
    DROP,
    RogueKey,
    claims,
    ec_key,
    ed_key,
    hs256_with_public_pem,
    mint,
    raw_token,
    rsa_key,
    tampered,
    unsigned,
)

ISSUER = "https://idp.example.com"
CLIENT = "gateway"
API = "api://orders"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_700_000_000
LEEWAY = 60.0
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]

RSA = rsa_key("rsa-1")
RSA_OTHER_SAME_KID = rsa_key("rsa-1", slot=1)
RSA_2 = rsa_key("rsa-2", slot=2)
EC = ec_key("ec-1")
ED = ed_key("ed-1")
PUBLISHED = [RSA, EC, ED]


def cache_of(keys: list[RogueKey]) -> JwksCache:
    async def fetch() -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in keys]}

    return JwksCache(fetch)


def id_claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "alice",
        "exp": NOW + 300,
        "iat": NOW,
        "nonce": NONCE,
    }
    return claims(**(base | changes))


def rsa(**changes: Any) -> Callable[[], str]:
    return lambda: mint(id_claims(**changes), RSA)


def case(make: Callable[[], str], expected: str | None, *, id: str, **kwargs: Any) -> Any:
    return pytest.param(make, kwargs, expected, id=id)


ID_TOKEN_CASES = [
    case(rsa(), None, id="ok-rs256"),
    case(lambda: mint(id_claims(), EC), None, id="ok-es256"),
    case(lambda: mint(id_claims(), ED), None, id="ok-eddsa"),
    case(rsa(aud=[CLIENT, "other"], azp=CLIENT), None, id="ok-several-audiences-with-azp"),
    case(rsa(aud=[CLIENT]), None, id="ok-audience-list-of-one"),
    case(rsa(azp=CLIENT), None, id="ok-azp-us"),
    case(rsa(exp=NOW - 30), None, id="ok-expired-within-leeway"),
    case(rsa(iat=NOW + 30), None, id="ok-iat-future-within-leeway"),
    case(lambda: mint(id_claims(), RSA, header={"typ": "JWT"}), None, id="ok-typ-jwt"),
    # alg allow-list, checked before any key is touched
    case(lambda: unsigned(id_claims()), "token-alg-not-allowed", id="alg-none"),
    case(lambda: unsigned(id_claims(), kid=None), "token-alg-not-allowed", id="alg-none-no-kid"),
    case(
        lambda: hs256_with_public_pem(id_claims(), RSA),
        "token-alg-not-allowed",
        id="hs256-public-key-pem",
    ),
    case(rsa(), "token-alg-not-allowed", id="rs256-not-configured", algorithms=["ES256"]),
    case(rsa(), "token-alg-not-allowed", id="hs256-configured-anyway", algorithms=["HS256"]),
    case(
        lambda: raw_token({"kid": "rsa-1"}, id_claims()), "token-alg-not-allowed", id="alg-missing"
    ),
    case(
        lambda: mint(id_claims(), RSA, header={"alg": "PS256"}),
        "token-alg-not-allowed",
        id="alg-switch-on-rs256-key",
    ),
    case(
        lambda: mint(id_claims(), RSA, header={"kid": "ec-1"}),
        "token-alg-not-allowed",
        id="rsa-alg-on-ec-kid",
    ),
    # signature
    case(
        lambda: tampered(mint(id_claims(), RSA)), "token-signature-invalid", id="signature-flipped"
    ),
    case(
        lambda: tampered(mint(id_claims(), RSA), sub="admin"),
        "token-signature-invalid",
        id="payload-changed",
    ),
    case(
        lambda: mint(id_claims(), RSA_OTHER_SAME_KID),
        "token-signature-invalid",
        id="other-key-same-kid",
    ),
    case(
        lambda: mint(id_claims(), EC).rsplit(".", 1)[0] + ".",
        "token-signature-invalid",
        id="signature-empty",
    ),
    # keys
    case(lambda: mint(id_claims(), RSA_2), "token-kid-unknown", id="kid-unknown"),
    # structure
    case(lambda: "not-a-jwt", "token-malformed", id="garbage"),
    case(lambda: "a.b.c", "token-malformed", id="bad-base64"),
    case(lambda: mint(id_claims(), RSA, header={"kid": 7}), "token-malformed", id="kid-not-string"),
    case(
        lambda: mint(id_claims(), RSA, header={"crit": ["exp"]}),
        "token-malformed",
        id="unknown-crit",
    ),
    case(rsa(exp="tomorrow"), "token-malformed", id="exp-string"),
    case(rsa(exp=True), "token-malformed", id="exp-bool"),
    case(rsa(exp=float("nan")), "token-malformed", id="exp-nan"),
    case(rsa(exp=10**400), "token-malformed", id="exp-huge"),
    case(rsa(aud=[CLIENT, 5]), "token-malformed", id="aud-not-strings"),
    case(rsa(sub=42), "token-malformed", id="sub-number"),
    case(
        lambda: mint(id_claims(), RSA, header={"typ": "at+jwt"}),
        "token-type-invalid",
        id="typ-access-token",
    ),
    case(
        lambda: mint(id_claims(), RSA, header={"typ": "logout+jwt"}),
        "token-type-invalid",
        id="typ-logout-token",
    ),
    # claims, Core §3.1.3.7
    case(rsa(iss="https://evil.example"), "token-issuer-invalid", id="iss-other"),
    case(rsa(iss=ISSUER + "/"), "token-issuer-invalid", id="iss-trailing-slash"),
    case(rsa(aud="other-client"), "token-audience-invalid", id="aud-other"),
    case(rsa(aud=["a", "b"]), "token-audience-invalid", id="aud-list-without-us"),
    case(rsa(aud=[CLIENT, "other"]), "token-azp-invalid", id="several-audiences-no-azp"),
    case(
        rsa(aud=[CLIENT, "other"], azp="other"),
        "token-azp-invalid",
        id="several-audiences-azp-other",
    ),
    case(rsa(azp="other"), "token-azp-invalid", id="azp-other"),
    case(rsa(exp=NOW - 61), "token-expired", id="expired"),
    case(rsa(exp=NOW - 60), "token-expired", id="expired-at-leeway-edge"),
    case(rsa(nbf=NOW + 120), "token-not-yet-valid", id="nbf-future"),
    case(rsa(iat=NOW + 120), "token-iat-invalid", id="iat-future"),
    case(rsa(nonce="other"), "token-nonce-invalid", id="nonce-wrong"),
    case(rsa(nonce=NONCE + "x"), "token-nonce-invalid", id="nonce-longer"),
    case(rsa(nonce=DROP), "token-claim-missing", id="nonce-missing"),
    case(rsa(iss=DROP), "token-claim-missing", id="iss-missing"),
    case(rsa(aud=DROP), "token-claim-missing", id="aud-missing"),
    case(rsa(exp=DROP), "token-claim-missing", id="exp-missing"),
    case(rsa(iat=DROP), "token-claim-missing", id="iat-missing"),
    case(rsa(sub=DROP), "token-claim-missing", id="sub-missing"),
]


@pytest.mark.parametrize(("make", "kwargs", "expected"), ID_TOKEN_CASES)
async def test_id_token(
    make: Callable[[], str], kwargs: dict[str, Any], expected: str | None
) -> None:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT,
        "nonce": NONCE,
        "algorithms": ALGORITHMS,
        "leeway": LEEWAY,
        "now": NOW,
    } | kwargs
    token = make()
    if expected is None:
        assert (await validate_id_token(token, cache_of(PUBLISHED), **options))["sub"] == "alice"
        return
    with pytest.raises(TokenInvalid) as caught:
        await validate_id_token(token, cache_of(PUBLISHED), **options)
    assert caught.value.reason == expected


async def test_missing_kid_with_several_candidate_keys_is_refused() -> None:
    token = mint(id_claims(), RSA, header={"kid": None})
    with pytest.raises(TokenInvalid) as caught:
        await validate_id_token(
            token,
            cache_of([RSA, RSA_2]),
            issuer=ISSUER,
            client_id=CLIENT,
            nonce=NONCE,
            algorithms=ALGORITHMS,
            leeway=LEEWAY,
            now=NOW,
        )
    assert caught.value.reason == "token-kid-missing"


async def test_missing_kid_with_one_candidate_key_is_accepted() -> None:
    # The EC and Ed keys cannot verify RS256, so the RSA key is the only candidate.
    token = mint(id_claims(), RSA, header={"kid": None})
    claims_ = await validate_id_token(
        token,
        cache_of(PUBLISHED),
        issuer=ISSUER,
        client_id=CLIENT,
        nonce=NONCE,
        algorithms=ALGORITHMS,
        leeway=LEEWAY,
        now=NOW,
    )
    assert claims_["sub"] == "alice"


async def test_weak_rsa_key_is_never_used() -> None:
    weak = rsa_key("weak", bits=1024)
    token = mint(id_claims(), weak)
    with pytest.raises(TokenInvalid) as caught:
        await validate_id_token(
            token,
            cache_of([weak]),
            issuer=ISSUER,
            client_id=CLIENT,
            nonce=NONCE,
            algorithms=ALGORITHMS,
            leeway=LEEWAY,
            now=NOW,
        )
    assert caught.value.reason == "token-kid-unknown"


async def test_alg_is_checked_before_the_keys_are_fetched() -> None:
    fetches = 0

    async def fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        return {"keys": [RSA.public_jwk()]}

    for token in (unsigned(id_claims()), hs256_with_public_pem(id_claims(), RSA)):
        with pytest.raises(TokenInvalid, match="token-alg-not-allowed"):
            await validate_id_token(
                token,
                JwksCache(fetch),
                issuer=ISSUER,
                client_id=CLIENT,
                nonce=NONCE,
                algorithms=ALGORITHMS,
                leeway=LEEWAY,
                now=NOW,
            )
    assert fetches == 0


# ---------------------------------------------------------------- bearer access tokens


def access_claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": API,
        "sub": "svc-1",
        "exp": NOW + 300,
        "iat": NOW,
        "scope": "orders.read",
    }
    return claims(**(base | changes))


def at(header: dict[str, Any] | None = None, **changes: Any) -> Callable[[], str]:
    return lambda: mint(access_claims(**changes), RSA, header=header)


ACCESS_TOKEN_CASES = [
    case(at(), None, id="ok"),
    case(at({"typ": "at+jwt"}), None, id="ok-typ-at+jwt"),
    case(at({"typ": "application/at+jwt"}), None, id="ok-typ-application-at+jwt"),
    case(at(aud=["other", API]), None, id="ok-one-of-several-audiences"),
    # RFC 9068 §2.2: iat is REQUIRED (it used to be optional here).
    case(at(iat=DROP), "token-claim-missing", id="iat-missing"),
    case(at(iat=None), "token-claim-missing", id="iat-null"),
    case(at(iat="1700000000"), "token-malformed", id="iat-string"),
    case(at(iat=True), "token-malformed", id="iat-bool"),
    case(at(iat=NOW - 86400), None, id="ok-iat-old"),
    case(at(nbf=NOW - 10), None, id="ok-nbf-past"),
    case(at({"typ": "logout+jwt"}), "token-type-invalid", id="typ-logout"),
    case(at(aud=CLIENT), "token-audience-invalid", id="id-token-audience"),
    case(at(aud=DROP), "token-claim-missing", id="aud-missing"),
    case(at(iss="https://evil.example"), "token-issuer-invalid", id="iss-other"),
    case(at(exp=DROP), "token-claim-missing", id="exp-missing"),
    case(at(exp=NOW - 120), "token-expired", id="expired"),
    case(at(nbf=NOW + 120), "token-not-yet-valid", id="nbf-future"),
    case(at(iat=NOW + 120), "token-iat-invalid", id="iat-future"),
    case(at(sub=DROP), "token-claim-missing", id="sub-missing"),
    case(lambda: unsigned(access_claims()), "token-alg-not-allowed", id="alg-none"),
]


@pytest.mark.parametrize(("make", "kwargs", "expected"), ACCESS_TOKEN_CASES)
async def test_access_token(
    make: Callable[[], str], kwargs: dict[str, Any], expected: str | None
) -> None:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "audiences": [API],
        "algorithms": ALGORITHMS,
        "leeway": LEEWAY,
        "now": NOW,
    } | kwargs
    if expected is None:
        assert (await validate_access_token(make(), cache_of(PUBLISHED), **options))[
            "sub"
        ] == "svc-1"
        return
    with pytest.raises(TokenInvalid) as caught:
        await validate_access_token(make(), cache_of(PUBLISHED), **options)
    assert caught.value.reason == expected


# ---------------------------------------------------------------- logout tokens

EVENTS: dict[str, dict[str, Any]] = {BACKCHANNEL_LOGOUT_EVENT: {}}


def logout_claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": NOW,
        "exp": NOW + 120,
        "jti": "jti-1",
        "sub": "alice",
        "sid": "sid-1",
        "events": EVENTS,
    }
    return claims(**(base | changes))


def lt(header: dict[str, Any] | None = None, **changes: Any) -> Callable[[], str]:
    return lambda: mint(logout_claims(**changes), RSA, header=header)


LOGOUT_TOKEN_CASES = [
    case(lt(), None, id="ok"),
    case(lt({"typ": "logout+jwt"}), None, id="ok-typ-logout+jwt"),
    case(lt(sub=DROP), None, id="ok-sid-only"),
    case(lt(sid=DROP), None, id="ok-sub-only"),
    case(
        lt(events={BACKCHANNEL_LOGOUT_EVENT: {}, "urn:other": {}}), None, id="ok-other-events-too"
    ),
    case(lt(sid=DROP, sub=DROP), "token-claim-missing", id="neither-sid-nor-sub"),
    case(lt(sid=""), "token-malformed", id="sid-empty"),
    case(lt(events=DROP), "token-events-invalid", id="events-missing"),
    case(lt(events={}), "token-events-invalid", id="events-empty"),
    case(
        lt(events={BACKCHANNEL_LOGOUT_EVENT: "yes"}), "token-events-invalid", id="event-not-object"
    ),
    case(lt(events=[BACKCHANNEL_LOGOUT_EVENT]), "token-events-invalid", id="events-list"),
    case(lt(nonce="n"), "token-nonce-present", id="nonce-present"),
    case(lt(jti=DROP), "token-claim-missing", id="jti-missing"),
    case(lt(exp=DROP), "token-claim-missing", id="exp-missing"),
    case(lt(iat=DROP), "token-claim-missing", id="iat-missing"),
    case(lt(exp=NOW - 120), "token-expired", id="expired"),
    case(lt(iat=NOW + 120), "token-iat-invalid", id="iat-future"),
    case(lt(aud="other"), "token-audience-invalid", id="aud-other"),
    case(lt(aud=[CLIENT, "other"]), "token-azp-invalid", id="several-audiences-no-azp"),
    case(lt(iss="https://evil.example"), "token-issuer-invalid", id="iss-other"),
    case(lt({"typ": "at+jwt"}), "token-type-invalid", id="typ-access-token"),
    case(lambda: tampered(lt()()), "token-signature-invalid", id="signature"),
    case(lambda: mint(id_claims(), RSA), "token-events-invalid", id="an-id-token"),
]


@pytest.mark.parametrize(("make", "kwargs", "expected"), LOGOUT_TOKEN_CASES)
async def test_logout_token(
    make: Callable[[], str], kwargs: dict[str, Any], expected: str | None
) -> None:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT,
        "algorithms": ALGORITHMS,
        "leeway": LEEWAY,
        "now": NOW,
    } | kwargs
    if expected is None:
        assert (await validate_logout_token(make(), cache_of(PUBLISHED), **options))[
            "jti"
        ] == "jti-1"
        return
    with pytest.raises(TokenInvalid) as caught:
        await validate_logout_token(make(), cache_of(PUBLISHED), **options)
    assert caught.value.reason == expected


# OpenID Core §12.2: the session's login was `ORIGINAL`; a refreshed ID token must be
# about the same login. A refresh "SHOULD NOT" carry a nonce (ours: none by default).
ORIGINAL = {"iss": ISSUER, "aud": CLIENT, "sub": "alice", "nonce": NONCE}


def refreshed(**changes: Any) -> Callable[[], str]:
    return lambda: mint(id_claims(**({"nonce": DROP} | changes)), RSA)


REFRESHED_ID_TOKEN_CASES = [
    case(refreshed(), None, id="ok-same-login"),
    case(refreshed(nonce=NONCE), None, id="ok-nonce-repeated"),
    case(refreshed(aud=[CLIENT]), None, id="ok-audience-as-list"),
    case(refreshed(azp=CLIENT), None, id="ok-azp-as-original", original=ORIGINAL | {"azp": CLIENT}),
    case(refreshed(sub="mallory"), "token-subject-mismatch", id="sub-other"),
    case(refreshed(sub=DROP), "token-claim-missing", id="sub-missing"),
    case(refreshed(iss="https://evil.example"), "token-issuer-invalid", id="iss-other"),
    case(
        refreshed(),
        "token-issuer-invalid",
        id="iss-other-than-the-login",
        original=ORIGINAL | {"iss": "https://old.example"},
    ),
    case(refreshed(aud="other"), "token-audience-invalid", id="aud-not-us"),
    case(
        refreshed(aud=[CLIENT, "other"], azp=CLIENT),
        "token-audience-invalid",
        id="aud-grew",
    ),
    case(refreshed(azp=CLIENT), "token-azp-invalid", id="azp-new"),
    case(
        refreshed(),
        "token-azp-invalid",
        id="azp-dropped",
        original=ORIGINAL | {"azp": CLIENT},
    ),
    case(refreshed(azp="other"), "token-azp-invalid", id="azp-other"),
    case(refreshed(nonce="another"), "token-nonce-invalid", id="nonce-other"),
    case(refreshed(iat=DROP), "token-claim-missing", id="iat-missing"),
    case(refreshed(exp=NOW - 120), "token-expired", id="expired"),
    case(lambda: tampered(refreshed()()), "token-signature-invalid", id="signature"),
    case(lambda: unsigned(id_claims(nonce=DROP)), "token-alg-not-allowed", id="alg-none"),
]


@pytest.mark.parametrize(("make", "kwargs", "expected"), REFRESHED_ID_TOKEN_CASES)
async def test_refreshed_id_token(
    make: Callable[[], str], kwargs: dict[str, Any], expected: str | None
) -> None:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT,
        "original": ORIGINAL,
        "algorithms": ALGORITHMS,
        "leeway": LEEWAY,
        "now": NOW,
    } | kwargs
    if expected is None:
        got = await validate_refreshed_id_token(make(), cache_of(PUBLISHED), **options)
        assert got["sub"] == "alice"
        return
    with pytest.raises(TokenInvalid) as caught:
        await validate_refreshed_id_token(make(), cache_of(PUBLISHED), **options)
    assert caught.value.reason == expected


def test_the_tables_cover_every_token_reason() -> None:
    tables = ID_TOKEN_CASES + ACCESS_TOKEN_CASES + LOGOUT_TOKEN_CASES + REFRESHED_ID_TOKEN_CASES
    covered = {p.values[2] for p in tables} | {
        "token-kid-missing",  # test_missing_kid_with_several_candidate_keys_is_refused
        "token-inactive",  # introspection answers: test_introspection.py
        "token-replayed",  # a SET's jti: tests/signals/test_receive.py
    }
    assert covered - {None} == TOKEN_REASONS
