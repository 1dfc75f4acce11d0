"""Device-posture tokens: keys generated here, tokens minted by the rogue signer.

Good tokens give device facts; expired, wrong issuer or audience, `alg: none`, the
HMAC-with-public-key forgery, tampering and unknown keys are refused with a reason.
The JWKS comes from a real HTTP server in the last tests.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from authgate.config.schema_adaptive import PostureConfig
from authgate.device.facts import DeviceError
from authgate.device.posture import PostureVerifier, http_jwks_fetch
from authgate.oidc.errors import ProviderError
from authgate.oidc.jwks import JwksCache
from tests.oidc.rogue import (
    DROP,
    RogueKey,
    RogueProvider,
    claims,
    ec_key,
    hs256_with_public_pem,
    mint,
    rsa_key,
    tampered,
    unsigned,
)

ISSUER, AUDIENCE = "https://mdm.example.com", "authgate"
NOW = 1_767_780_000.0
EC, RSA = ec_key("mdm-ec"), rsa_key("mdm-rsa")


def config(**overrides: Any) -> PostureConfig:
    values = {
        "issuer": ISSUER,
        "jwks_uri": "https://mdm.example.com/jwks",
        "audience": AUDIENCE,
        "header": "X-Device-Posture",
        "cookie": "device_posture",
    }
    return PostureConfig.model_validate(values | overrides)


def verifier(*published: RogueKey, **overrides: Any) -> PostureVerifier:
    async def fetch() -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in published or (EC, RSA)]}

    return PostureVerifier(config(**overrides), JwksCache(fetch))


def posture(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "agent-7", "exp": NOW + 300, "iat": NOW,
        "device_id": "MDM-DEVICE-42", "managed": True, "compliant": False, "os": "macOS 15.2",
    }  # fmt: skip
    return claims(**(base | values))


async def test_a_good_token_describes_the_device() -> None:
    facts = await verifier().verify(mint(posture(), EC), NOW)
    assert (facts.source, facts.device_id, facts.subject, facts.issuer) == (
        "posture", "MDM-DEVICE-42", "agent-7", ISSUER,
    )  # fmt: skip
    assert (facts.managed, facts.compliant, facts.os) == (True, False, "macOS 15.2")
    assert facts.not_after == NOW + 300 and facts.claims["os"] == "macOS 15.2"


async def test_rsa_keys_and_sub_as_the_device_id() -> None:
    token = mint(posture(device_id=DROP, managed=DROP, compliant=DROP, os=DROP), RSA)
    facts = await verifier().verify(token, NOW)
    assert facts.device_id == "agent-7"
    assert (facts.managed, facts.compliant, facts.os) == (None, None, None)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(mint(posture(exp=NOW - 61), EC), "token-expired", id="expired"),
        pytest.param(mint(posture(exp=DROP), EC), "token-claim-missing", id="no-exp"),
        pytest.param(mint(posture(iss="https://evil.example"), EC), "token-issuer-invalid",
                     id="wrong-issuer"),
        pytest.param(mint(posture(aud="another-app"), EC), "token-audience-invalid",
                     id="wrong-audience"),
        pytest.param(mint(posture(aud=DROP), EC), "token-claim-missing", id="no-audience"),
        pytest.param(mint(posture(nbf=NOW + 600), EC), "token-not-yet-valid", id="not-yet"),
        pytest.param(unsigned(posture(), kid="mdm-ec"), "token-alg-not-allowed", id="alg-none"),
        pytest.param(hs256_with_public_pem(posture(), RSA), "token-alg-not-allowed",
                     id="hs256-with-public-key"),
        pytest.param(tampered(mint(posture(), EC), device_id="CEO-LAPTOP"),
                     "token-signature-invalid", id="tampered-claims"),
        pytest.param(tampered(mint(posture(), EC)), "token-signature-invalid", id="bad-signature"),
        pytest.param(mint(posture(), ec_key("mdm-ec")), "token-signature-invalid",
                     id="same-kid-other-key"),
        pytest.param(mint(posture(), ec_key("unknown")), "token-kid-unknown", id="unknown-kid"),
        pytest.param(mint(posture(), EC, header={"typ": "logout+jwt"}), "token-type-invalid",
                     id="wrong-typ"),
        pytest.param("not.a.jwt", "token-malformed", id="garbage"),
    ],
)  # fmt: skip
async def test_bad_tokens_are_refused(token: str, reason: str) -> None:
    with pytest.raises(DeviceError) as caught:
        await verifier().verify(token, NOW)
    assert caught.value.reason == "device-posture-invalid"
    assert caught.value.detail == reason


async def test_the_algorithm_allow_list_is_the_config_s() -> None:
    only_rsa = verifier(algorithms=["RS256"])
    assert (await only_rsa.verify(mint(posture(), RSA), NOW)).device_id == "MDM-DEVICE-42"
    with pytest.raises(DeviceError, match="token-alg-not-allowed"):
        await only_rsa.verify(mint(posture(), EC), NOW)


@pytest.mark.parametrize(
    ("values", "claim"),
    [
        ({"managed": "yes"}, "managed"),
        ({"compliant": 1}, "compliant"),
        ({"os": ["macOS"]}, "os"),
        ({"device_id": ""}, "device_id"),
        ({"device_id": "x" * 257}, "device_id"),
        ({"device_id": 42}, "device_id"),
    ],
)
async def test_posture_claims_of_the_wrong_type(values: dict[str, Any], claim: str) -> None:
    with pytest.raises(DeviceError) as caught:
        await verifier().verify(mint(posture(**values), EC), NOW)
    assert (caught.value.reason, caught.value.detail) == ("device-posture-claims-invalid", claim)


@pytest.mark.parametrize(
    ("headers", "cookies", "found"),
    [
        ({"X-Device-Posture": "abc.def.ghi"}, {}, "abc.def.ghi"),
        ({"X-Device-Posture": "Bearer abc.def.ghi"}, {}, "abc.def.ghi"),
        ({"X-Device-Posture": " bearer  abc.def.ghi "}, {}, "abc.def.ghi"),
        ({}, {"device_posture": "from.the.cookie"}, "from.the.cookie"),
        ({"X-Device-Posture": "header"}, {"device_posture": "cookie"}, "header"),
        ({"X-Device-Posture": "  "}, {}, None),
        ({"Authorization": "Bearer x"}, {"session": "y"}, None),
    ],
)
def test_where_the_token_is_found(
    headers: dict[str, str], cookies: dict[str, str], found: str | None
) -> None:
    assert verifier().token_from(headers, cookies) == found


async def test_device_is_none_without_a_token_and_refuses_a_bad_one() -> None:
    check = verifier()
    assert await check.device({}, {}, NOW) is None
    good = await check.device({"X-Device-Posture": mint(posture(), EC)}, {}, NOW)
    assert good is not None and good.device_id == "MDM-DEVICE-42"
    with pytest.raises(DeviceError):  # present but bad: never "no device"
        await check.device({"X-Device-Posture": "garbage"}, {}, NOW)


# ------------------------------------------------------------------ the JWKS over HTTP


@pytest.fixture
async def mdm(aiohttp_server: AiohttpServer) -> RogueProvider:
    provider = RogueProvider(published=[EC])
    server = await aiohttp_server(provider.app())
    provider.issuer = f"http://{server.host}:{server.port}"
    return provider


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_jwks_fetched_over_http(mdm: RogueProvider, http: aiohttp.ClientSession) -> None:
    jwks_uri = f"{mdm.issuer}/jwks"
    check = PostureVerifier(
        config(jwks_uri=jwks_uri), JwksCache(http_jwks_fetch(http, jwks_uri))
    )
    facts = await check.verify(mint(posture(), EC), NOW)
    assert facts.device_id == "MDM-DEVICE-42" and mdm.jwks_fetches == 1


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/token", "provider-bad-response"), ("/nowhere", "provider-bad-response")],
)
async def test_jwks_failures_are_provider_errors(
    mdm: RogueProvider, http: aiohttp.ClientSession, path: str, reason: str
) -> None:
    fetch = http_jwks_fetch(http, f"{mdm.issuer}{path}")
    with pytest.raises(ProviderError) as caught:
        await fetch()
    assert caught.value.reason == reason


async def test_jwks_not_json(mdm: RogueProvider, http: aiohttp.ClientSession) -> None:
    fetch = http_jwks_fetch(http, f"{mdm.issuer}/userinfo")
    mdm.userinfo_body = "<html>"
    with pytest.raises(ProviderError, match="not JSON"):
        await fetch()


async def test_jwks_unreachable(http: aiohttp.ClientSession) -> None:
    fetch = http_jwks_fetch(http, "http://127.0.0.1:9/jwks", timeout=2)
    with pytest.raises(ProviderError) as caught:
        await fetch()
    assert caught.value.reason == "provider-unreachable"
