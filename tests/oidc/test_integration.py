"""The whole code flow against the real OpenID Provider of the test bed (oidc-provider).

Discovery, the authorization URL from `flow`, the provider's login form, the callback
checks with the real RFC 9207 `iss`, the code exchange, ID token validation with the
real nonce and keys, userinfo, refresh and the end-session URL. Order matters inside a
test: replaying a used code or refresh token revokes the provider's whole grant.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import aiohttp
import pytest

from authgate.config.schema_auth import ProviderConfig
from authgate.oidc.claims import identity_from_claims
from authgate.oidc.client import OIDCClient, TokenResponse, merge_userinfo
from authgate.oidc.errors import LoginError, ProviderError, TokenInvalid
from authgate.oidc.flow import (
    LoginState,
    authorization_url,
    check_callback,
    new_login_state,
)
from authgate.oidc.tokens import validate_id_token
from tests.testbed.oidc import (
    CALLBACK_PATH,
    DEFAULT_USERS,
    OIDCProvider,
    login_at_provider,
)
from tests.testbed.ports import free_port

SCOPES = ["openid", "email", "profile", "groups"]


@dataclass
class Login:
    client: OIDCClient
    login: LoginState
    redirect_uri: str
    query: dict[str, str]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


def _config(op: OIDCProvider, **overrides: Any) -> ProviderConfig:
    values: dict[str, Any] = {
        "id": "testbed",
        "issuer": op.issuer,
        "client_id": op.client_id,
        "client_secret": op.client_secret,
        "scopes": SCOPES,
    }
    return ProviderConfig(**(values | overrides))


async def _log_in(client: OIDCClient, user: str, redirect_uri: str) -> Login:
    """What the gateway's /start and /callback do, minus cookies and redirects."""
    meta = await client.load()
    login = new_login_state(client.config.id, "/after-login", time.time())
    url = authorization_url(
        meta.authorization_endpoint,
        client_id=client.config.client_id,
        redirect_uri=redirect_uri,
        scopes=client.config.scopes,
        login=login,
        extra_params=client.config.extra_auth_params,
    )
    jar = aiohttp.CookieJar(unsafe=True)  # the provider is on an IP host
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        target = await login_at_provider(browser, url, user, DEFAULT_USERS[user]["password"])
    split = urlsplit(target)
    assert f"{split.scheme}://{split.netloc}{split.path}" == redirect_uri
    return Login(client, login, redirect_uri, dict(parse_qsl(split.query)))


async def _exchange(session: Login) -> TokenResponse:
    meta = session.client.metadata
    assert meta is not None
    code = check_callback(
        session.query,
        login=session.login,
        issuer=meta.issuer,
        iss_supported=meta.authorization_response_iss_parameter_supported,
    )
    return await session.client.exchange_code(
        code, code_verifier=session.login.code_verifier, redirect_uri=session.redirect_uri
    )


async def test_code_flow_end_to_end(
    oidc_provider: OIDCProvider, http: aiohttp.ClientSession
) -> None:
    client = OIDCClient(_config(oidc_provider), http)
    meta = await client.load()
    assert meta.issuer == oidc_provider.issuer
    assert meta.authorization_response_iss_parameter_supported is True
    assert "S256" in meta.code_challenge_methods_supported

    redirect_uri = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    session = await _log_in(client, "alice", redirect_uri)
    assert session.query["iss"] == oidc_provider.issuer  # RFC 9207
    tokens = await _exchange(session)
    assert tokens.id_token is not None and tokens.refresh_token is not None

    # The module function, with the real nonce and the provider's real keys.
    claims = await validate_id_token(
        tokens.id_token,
        client.jwks,
        issuer=client.issuer,
        client_id=oidc_provider.client_id,
        nonce=session.login.nonce,
        algorithms=client.config.algorithms,
        leeway=client.config.leeway,
        now=time.time(),
    )
    identity = identity_from_claims(
        claims, provider_id="testbed", mapping=client.config.claims, credential="session"
    )
    assert identity.subject == "alice" and identity.email == "alice@example.com"
    assert identity.groups == ("hr-staff", "admins") and identity.acr == "pwd"
    assert identity.auth_time is not None and abs(identity.auth_time - time.time()) < 120

    # Another login's nonce is refused (the ID token is bound to this login).
    with pytest.raises(TokenInvalid, match="token-nonce-invalid"):
        await client.validate_id_token(tokens.id_token, nonce="another-login", now=time.time())

    userinfo = await client.userinfo(tokens.access_token)
    merged = merge_userinfo(claims, userinfo)
    assert merged["sub"] == "alice" and merged["name"] == "Alice Archer"
    assert merged["nonce"] == session.login.nonce  # the ID token's protocol claims stay

    refreshed = await client.refresh(tokens.refresh_token)
    assert refreshed.access_token and refreshed.access_token != tokens.access_token
    assert await client.userinfo(refreshed.access_token) == userinfo

    url = client.end_session_url(
        id_token_hint=tokens.id_token,
        post_logout_redirect_uri="http://127.0.0.1/.authgate/logged-out",
        state="bye",
    )
    assert url is not None and url.startswith(oidc_provider.endpoint("session/end") + "?")
    params = parse_qs(urlsplit(url).query)
    assert params["id_token_hint"] == [tokens.id_token]
    assert params["client_id"] == [oidc_provider.client_id] and params["state"] == ["bye"]
    async with http.get(url, allow_redirects=False) as answer:
        assert answer.status == 200  # the provider's logout confirmation page

    # Last (it revokes the grant): a replayed code is refused with invalid_grant.
    with pytest.raises(ProviderError) as replay:
        await _exchange(session)
    assert replay.value.reason == "token-exchange-failed"
    assert replay.value.oauth_error == "invalid_grant"


async def test_a_callback_for_another_login_is_refused(
    oidc_provider: OIDCProvider, http: aiohttp.ClientSession
) -> None:
    client = OIDCClient(_config(oidc_provider), http)
    redirect_uri = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    session = await _log_in(client, "bob", redirect_uri)
    other = new_login_state("testbed", "/", time.time())
    with pytest.raises(LoginError, match="login-state-mismatch"):
        check_callback(session.query, login=other, issuer=client.issuer, iss_supported=True)
    with pytest.raises(LoginError, match="login-iss-mismatch"):
        check_callback(
            session.query | {"iss": "http://127.0.0.3:1"},
            login=session.login,
            issuer=client.issuer,
            iss_supported=True,
        )
    # The code is good, but a different PKCE verifier cannot redeem it (RFC 7636 §4.6).
    code = check_callback(
        session.query, login=session.login, issuer=client.issuer, iss_supported=True
    )
    with pytest.raises(ProviderError) as caught:
        await client.exchange_code(
            code, code_verifier=other.code_verifier, redirect_uri=redirect_uri
        )
    assert caught.value.oauth_error == "invalid_grant"


async def test_client_secret_post_with_a_registered_client(
    oidc_provider: OIDCProvider, http: aiohttp.ClientSession
) -> None:
    redirect_uri = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    registered = oidc_provider.register_client(
        [redirect_uri], token_endpoint_auth_method="client_secret_post"
    )
    config = _config(
        oidc_provider,
        client_id=registered["client_id"],
        client_secret=registered["client_secret"],
        token_auth_method="client_secret_post",
    )
    client = OIDCClient(config, http)
    session = await _log_in(client, "bob", redirect_uri)
    tokens = await _exchange(session)
    assert tokens.id_token is not None
    claims = await client.validate_id_token(
        tokens.id_token, nonce=session.login.nonce, now=time.time()
    )
    assert claims["sub"] == "bob" and claims["aud"] == registered["client_id"]
    assert claims["groups"] == ["contractors"]
