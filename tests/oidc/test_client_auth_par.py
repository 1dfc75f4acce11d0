"""private_key_jwt, client_secret_jwt and PAR against the real OpenID Provider.

oidc-provider checks the client assertion for real (signature with the client's
registered jwks or its secret, iss/sub = client_id, aud, exp, a jti it has not seen)
and, with `requirePushedAuthorizationRequests`, refuses any authorization request that
was not pushed. Each test logs in through `oidc.par.authorization_location` — what
the gateway's /start does — and exchanges the code with the same client auth.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc.jwk import ECKey, RSAKey

from authgate.config.schema_auth import ProviderConfig
from authgate.oidc.client import OIDCClient
from authgate.oidc.errors import ProviderError
from authgate.oidc.flow import check_callback, new_login_state
from authgate.oidc.par import authorization_location
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import CALLBACK_PATH, OIDCProvider, login_at_provider, make_client
from tests.testbed.ports import free_port

SECRET_JWT = "client-secret-jwt-0123456789abcdefghijklmnopqrstuv"  # 32+ bytes: HS256
REDIRECT = f"http://127.0.0.1{CALLBACK_PATH}"  # any port: the clients are `native`
REQUIRE_PAR = {"features": {"pushedAuthorizationRequests": {"requirePushedAuthorizationRequests": True}}}


def pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_jwk(key: PrivateKeyTypes, kid: str, alg: str) -> dict[str, Any]:
    imported = ECKey.import_key(pem(key)) if isinstance(key, ec.EllipticCurvePrivateKey) else RSAKey.import_key(pem(key))
    return {**imported.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}


EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def clients() -> list[dict[str, Any]]:
    return [
        make_client(
            "gw-pkjwt-ec", None, any_loopback_port=True,
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [public_jwk(EC_KEY, "gw-ec-1", "ES256")]},
        ),
        make_client(
            "gw-pkjwt-rsa", None, any_loopback_port=True,
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [public_jwk(RSA_KEY, "gw-rsa-1", "PS256")]},
        ),
        make_client(
            "gw-csjwt", SECRET_JWT, any_loopback_port=True,
            token_endpoint_auth_method="client_secret_jwt",
        ),
    ]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


@pytest.fixture
def required_par(oidc_provider_factory: Callable[..., OIDCProvider]) -> OIDCProvider:
    return oidc_provider_factory(clients=clients(), options=REQUIRE_PAR)


def config(op: OIDCProvider, client_id: str, **values: Any) -> ProviderConfig:
    return ProviderConfig(id="op", issuer=op.issuer, client_id=client_id, **values)


def ec_config(op: OIDCProvider, **values: Any) -> ProviderConfig:
    key = {"pem": pem(EC_KEY), "kid": "gw-ec-1", "alg": "ES256"}
    return config(op, "gw-pkjwt-ec", token_auth_method="private_key_jwt", client_key=key, **values)


async def log_in(client: OIDCClient) -> dict[str, Any]:
    """/start, the provider's login, /callback: the ID token's claims."""
    meta = await client.load()
    redirect_uri = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    login = new_login_state(client.config.id, "/", time.time())
    location = await authorization_location(client, meta, login, redirect_uri)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        target = await login_at_provider(browser, location, "alice", "alice-password", issuer=meta.issuer)
    code = check_callback(
        dict(parse_qsl(urlsplit(target).query)), login=login, issuer=meta.issuer, iss_supported=True
    )
    tokens = await client.exchange_code(code, code_verifier=login.code_verifier, redirect_uri=redirect_uri)
    assert tokens.id_token is not None
    return await client.validate_id_token(tokens.id_token, nonce=login.nonce, now=time.time())


async def test_private_key_jwt_with_par_signs_in(required_par: OIDCProvider, http: aiohttp.ClientSession) -> None:
    client = OIDCClient(ec_config(required_par), http)
    meta = await client.load()
    assert meta.require_pushed_authorization_requests is True
    assert meta.pushed_authorization_request_endpoint == required_par.endpoint("request")
    location = await authorization_location(client, meta, new_login_state("op", "/", time.time()), REDIRECT)
    # RFC 9126 §4: the browser carries only client_id and request_uri.
    assert set(parse_qs(urlsplit(location).query)) == {"client_id", "request_uri"}
    claims = await log_in(client)
    assert claims["sub"] == "alice" and claims["aud"] == "gw-pkjwt-ec"


async def test_private_key_jwt_rsa_pss_from_a_jwk(required_par: OIDCProvider, http: aiohttp.ClientSession) -> None:
    jwk = {**RSAKey.import_key(pem(RSA_KEY)).as_dict(private=True), "kid": "gw-rsa-1"}
    values = {"token_auth_method": "private_key_jwt", "client_key": {"jwk": jwk, "alg": "PS256"}}
    client = OIDCClient(config(required_par, "gw-pkjwt-rsa", **values), http)
    assert (await log_in(client))["sub"] == "alice"


async def test_client_secret_jwt_signs_in(required_par: OIDCProvider, http: aiohttp.ClientSession) -> None:
    values = {"client_secret": SECRET_JWT, "token_auth_method": "client_secret_jwt"}
    client = OIDCClient(config(required_par, "gw-csjwt", **values), http)
    assert (await log_in(client))["sub"] == "alice"


async def test_an_assertion_signed_with_another_key_is_refused(
    required_par: OIDCProvider, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    # The provider verifies the assertion: the right kid, the wrong key, is invalid_client
    # at the PAR endpoint (the first authenticated call of a login).
    key = {"pem": pem(OTHER_KEY), "kid": "gw-ec-1", "alg": "ES256"}
    client = OIDCClient(config(required_par, "gw-pkjwt-ec", token_auth_method="private_key_jwt", client_key=key), http)
    meta = await client.load()
    with pytest.raises(ProviderError) as refused:
        await authorization_location(client, meta, new_login_state("op", "/", time.time()), REDIRECT)
    assert refused.value.reason == "provider-bad-response"
    assert "invalid_client" in caplog.text  # RFC 6749 §5.2, logged with the refusal


async def test_a_wrong_secret_is_refused(required_par: OIDCProvider, http: aiohttp.ClientSession) -> None:
    values = {"client_secret": SECRET_JWT[::-1], "token_auth_method": "client_secret_jwt"}
    client = OIDCClient(config(required_par, "gw-csjwt", **values), http)
    with pytest.raises(ProviderError):
        await log_in(client)


async def test_par_off_against_a_provider_that_requires_it_is_refused_there(
    required_par: OIDCProvider, http: aiohttp.ClientSession
) -> None:
    # The control: without the push, this provider refuses the front-channel request
    # — so the logins above signed in because of PAR, not beside it.
    client = OIDCClient(ec_config(required_par, par="off"), http)
    meta = await client.load()
    login = new_login_state("op", "/", time.time())
    location = await authorization_location(client, meta, login, "http://127.0.0.1/.authgate/callback")
    assert "code_challenge" in parse_qs(urlsplit(location).query)
    async with http.get(location, allow_redirects=False) as answer:
        refused = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert refused["error"] == ["invalid_request"]
    assert "pushed authorization request" in refused["error_description"][0].lower()


async def test_par_required_without_the_endpoint_fails_closed(
    oidc_provider_factory: Callable[..., OIDCProvider], http: aiohttp.ClientSession
) -> None:
    no_par = oidc_provider_factory(clients=clients(), options={"features": {"pushedAuthorizationRequests": {"enabled": False}}})
    client = OIDCClient(ec_config(no_par, par="required"), http)
    meta = await client.load()
    assert meta.pushed_authorization_request_endpoint is None
    with pytest.raises(ProviderError, match="par"):
        await authorization_location(client, meta, new_login_state("op", "/", time.time()), REDIRECT)
    # auto falls back to the front channel where the provider has no PAR endpoint.
    auto = OIDCClient(ec_config(no_par), http)
    assert (await log_in(auto))["sub"] == "alice"


def test_pem_file_config_is_checked_where_it_is_written(tmp_path: Path) -> None:
    from authgate.config.errors import ConfigError
    from authgate.config.loader import load_config

    (tmp_path / "public.pem").write_bytes(
        EC_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "config.yaml").write_text(
        "providers:\n"
        "  - id: op\n"
        "    issuer: https://op.example\n"
        "    client_id: gw\n"
        "    token_auth_method: private_key_jwt\n"
        "    client_key:\n"
        "      pem_file: public.pem\n"
        "      alg: ES256\n"
        "secrets: {cookie_secret: [" + "x" * 40 + "]}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "config.yaml", {})
    text = str(error.value)
    assert "config.yaml:6" in text and "providers[0].client_key" in text and "private key" in text


async def test_the_gateway_signs_in_with_private_key_jwt_from_a_pem_file_through_par(
    required_par: OIDCProvider, echo_upstream: TestServer, gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> None:
    # The whole path: the config file names the key file, the running gateway pushes the
    # request, the browser carries only the request_uri, the code is exchanged with a
    # client assertion — oidc-provider requires PAR and checks every assertion.
    (tmp_path / "client-key.pem").write_text(pem(EC_KEY))
    config = login_config(
        required_par, str(echo_upstream.make_url("/")).rstrip("/"), tmp_path / "assertion.pem",
        client={"client_id": "gw-pkjwt-ec", "client_secret": None},
        provider_options={
            "token_auth_method": "private_key_jwt", "par": "required",
            "client_key": {"pem_file": str(tmp_path / "client-key.pem"), "kid": "gw-ec-1", "alg": "ES256"},
        },
    )
    gateway = gateway_factory(config)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(f"{gateway.url}/x", headers={"Accept": "text/html"}, allow_redirects=False) as r:
            start = r.headers["Location"]
        async with browser.get(f"{gateway.url}{start}", allow_redirects=False) as r:
            authorize = r.headers["Location"]
        assert set(parse_qs(urlsplit(authorize).query)) == {"client_id", "request_uri"}
        callback = await login_at_provider(browser, authorize, "alice", "alice-password", issuer=required_par.issuer)
        async with browser.get(callback, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
        async with browser.get(f"{gateway.url}/x", headers={"Accept": "application/json"}) as r:
            assert r.status == 200
            echo = await r.json()
    assert ["X-Authgate-User", "alice"] in [list(h) for h in echo["headers"]]
    log = required_par.log_text(limit=1 << 20)
    assert "POST /request 201" in log and "POST /token 200" in log
