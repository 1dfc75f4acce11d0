"""The provider client against the rogue provider: discovery, token, userinfo, logout."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import aiohttp
import pytest

from authgate.oidc.client import OIDCClient, merge_userinfo
from authgate.oidc.errors import ProviderError, TokenInvalid
from tests.oidc.conftest import CLIENT_ID, CLIENT_SECRET, ClientFactory, provider_config
from tests.oidc.rogue import DROP, RogueProvider, mint, rsa_key
from tests.testbed.ports import free_port

TOKENS = {"access_token": "at-1", "token_type": "Bearer", "id_token": "x.y.z", "expires_in": 300}


# ---------------------------------------------------------------- discovery


async def test_discovery_loads_and_is_cached(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    client = await rogue_client()
    assert client.metadata is None
    meta = await client.load()
    assert meta.issuer == rogue.issuer and client.issuer == rogue.issuer
    assert meta.token_endpoint == f"{rogue.issuer}/token"
    assert meta.authorization_response_iss_parameter_supported is True
    assert meta.id_token_signing_alg_values_supported == ("RS256", "ES256")
    assert await client.load() is meta and rogue.discovery_fetches == 1
    await client.load(refresh=True)
    assert rogue.discovery_fetches == 2


async def test_configured_issuer_slash_is_forgiven_but_tokens_use_the_exact_one(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    client = await rogue_client()
    assert client.configured_issuer == rogue.issuer + "/"  # pydantic's AnyHttpUrl
    await client.load()
    assert client.issuer == rogue.issuer  # what tokens and RFC 9207 `iss` must say


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param(
            {"issuer": "http://evil.example"}, "provider-issuer-mismatch", id="other-issuer"
        ),
        pytest.param({"issuer": "ISSUER/sub"}, "provider-issuer-mismatch", id="issuer-sub-path"),
        pytest.param({"issuer": "ISSUER//"}, "provider-issuer-mismatch", id="two-slashes"),
        pytest.param({"issuer": DROP}, "provider-bad-response", id="issuer-missing"),
        pytest.param({"issuer": "ISSUER?x=1"}, "provider-bad-response", id="issuer-with-query"),
        pytest.param({"jwks_uri": DROP}, "provider-bad-response", id="jwks-uri-missing"),
        pytest.param(
            {"token_endpoint": "/token"}, "provider-bad-response", id="token-endpoint-relative"
        ),
        pytest.param(
            {"authorization_endpoint": 5}, "provider-bad-response", id="auth-endpoint-number"
        ),
        pytest.param(
            {"userinfo_endpoint": "ftp://x/y"}, "provider-bad-response", id="userinfo-ftp"
        ),
        pytest.param(
            {"id_token_signing_alg_values_supported": "RS256"},
            "provider-bad-response",
            id="algs-string",
        ),
    ],
)
async def test_bad_discovery_documents(
    rogue: RogueProvider, rogue_client: ClientFactory, overrides: dict[str, Any], reason: str
) -> None:
    rogue.discovery_overrides = {
        k: v.replace("ISSUER", rogue.issuer) if isinstance(v, str) else v
        for k, v in overrides.items()
    }
    with pytest.raises(ProviderError) as caught:
        await (await rogue_client()).load()
    assert caught.value.reason == reason


async def test_optional_endpoints_may_be_absent(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.discovery_overrides = {
        "userinfo_endpoint": DROP,
        "end_session_endpoint": DROP,
        "authorization_response_iss_parameter_supported": DROP,
    }
    client = await rogue_client()
    meta = await client.load()
    assert meta.userinfo_endpoint is None and meta.end_session_endpoint is None
    assert meta.authorization_response_iss_parameter_supported is False
    assert client.end_session_url(id_token_hint="t", post_logout_redirect_uri=None) is None
    with pytest.raises(ProviderError, match="userinfo-failed"):
        await client.userinfo("at-1")


async def test_unreachable_provider(http: aiohttp.ClientSession) -> None:
    client = OIDCClient(provider_config(f"http://127.0.0.1:{free_port()}"), http, timeout=2)
    with pytest.raises(ProviderError) as caught:
        await client.load()
    assert caught.value.reason == "provider-unreachable"


async def test_slow_provider_times_out(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.delay = 1.0
    client = await rogue_client(timeout=0.1)
    with pytest.raises(ProviderError) as caught:
        await client.load()
    assert caught.value.reason == "provider-timeout"


async def test_discovery_http_error(rogue: RogueProvider, http: aiohttp.ClientSession) -> None:
    client = OIDCClient(provider_config(rogue.issuer + "/nowhere"), http)
    with pytest.raises(ProviderError, match="provider-bad-response"):
        await client.load()


# ---------------------------------------------------------------- token endpoint


def _basic(headers: dict[str, str]) -> tuple[str, str]:
    scheme, _, value = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(value).decode().partition(":")
    return unquote_plus(user), unquote_plus(password)


async def test_exchange_code_with_client_secret_basic(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.token_body = TOKENS | {"refresh_token": "rt-1", "scope": "openid email"}
    client = await rogue_client()
    answer = await client.exchange_code("c-1", code_verifier="v" * 43, redirect_uri="https://gw/cb")
    assert answer.access_token == "at-1" and answer.id_token == "x.y.z"
    assert answer.refresh_token == "rt-1" and answer.expires_in == 300.0
    assert answer.token_type == "Bearer" and answer.scope == "openid email"
    form, headers = rogue.token_requests[0]
    assert form == {
        "grant_type": "authorization_code",
        "code": "c-1",
        "redirect_uri": "https://gw/cb",
        "code_verifier": "v" * 43,
    }
    # RFC 6749 §2.3.1: both parts form-urlencoded, so ':' in the secret survives.
    assert _basic(headers) == (CLIENT_ID, CLIENT_SECRET)
    assert ":" not in base64.b64decode(headers["Authorization"][6:]).decode().split(":", 1)[1]


async def test_client_secret_post(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.token_body = TOKENS
    client = await rogue_client(token_auth_method="client_secret_post")
    await client.exchange_code("c-1", code_verifier="v" * 43, redirect_uri="https://gw/cb")
    form, headers = rogue.token_requests[0]
    assert form["client_id"] == CLIENT_ID and form["client_secret"] == CLIENT_SECRET
    assert "Authorization" not in headers


async def test_public_client_sends_only_its_id(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.token_body = TOKENS
    client = await rogue_client(client_secret=None)
    await client.refresh("rt-1")
    form, headers = rogue.token_requests[0]
    assert form == {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": CLIENT_ID}
    assert "Authorization" not in headers


async def test_refresh_may_omit_the_id_token(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.token_body = {"access_token": "at-2", "token_type": "bearer", "expires_in": "3600"}
    answer = await (await rogue_client()).refresh("rt-1")
    assert answer.id_token is None and answer.refresh_token is None and answer.expires_in == 3600.0


@pytest.mark.parametrize(
    ("status", "body", "reason", "oauth_error"),
    [
        pytest.param(
            400,
            {"error": "invalid_grant", "error_description": "secret rt-1 <b>"},
            "token-exchange-failed",
            "invalid_grant",
            id="invalid-grant",
        ),
        pytest.param(
            401,
            {"error": "invalid_client"},
            "token-exchange-failed",
            "invalid_client",
            id="invalid-client",
        ),
        pytest.param(
            400, {"error": 'bad"\x00code'}, "token-exchange-failed", "badcode", id="error-sanitized"
        ),
        pytest.param(400, "<html>nope</html>", "provider-bad-response", None, id="400-html"),
        pytest.param(500, {"error": "server_error"}, "provider-bad-response", None, id="500"),
        pytest.param(200, "not json", "provider-bad-response", None, id="200-not-json"),
        pytest.param(200, [1, 2], "provider-bad-response", None, id="200-not-object"),
        pytest.param(
            200, TOKENS | {"id_token": DROP}, "provider-bad-response", None, id="no-id-token"
        ),
        pytest.param(
            200,
            TOKENS | {"access_token": DROP},
            "provider-bad-response",
            None,
            id="no-access-token",
        ),
        pytest.param(
            200, TOKENS | {"token_type": "DPoP"}, "provider-bad-response", None, id="dpop"
        ),
        pytest.param(
            200, TOKENS | {"id_token": 5}, "provider-bad-response", None, id="id-token-number"
        ),
    ],
)
async def test_token_endpoint_failures(
    rogue: RogueProvider,
    rogue_client: ClientFactory,
    status: int,
    body: Any,
    reason: str,
    oauth_error: str | None,
) -> None:
    rogue.token_status = status
    rogue.token_body = (
        {k: v for k, v in body.items() if v is not DROP} if isinstance(body, dict) else body
    )
    client = await rogue_client()
    with pytest.raises(ProviderError) as caught:
        await client.exchange_code("c-1", code_verifier="v" * 43, redirect_uri="https://gw/cb")
    assert caught.value.reason == reason and caught.value.oauth_error == oauth_error
    assert "secret" not in str(caught.value) and "rt-1" not in str(caught.value)


async def test_oversized_answers_are_refused(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.token_body = {"access_token": "a" * (2 << 20), "token_type": "Bearer", "id_token": "x"}
    with pytest.raises(ProviderError, match="provider-bad-response"):
        await (await rogue_client()).refresh("rt-1")


# ---------------------------------------------------------------- userinfo


async def test_userinfo_sends_the_access_token(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.userinfo_body = {"sub": "alice", "email": "alice@example.com"}
    info = await (await rogue_client()).userinfo("at-1")
    assert info == {"sub": "alice", "email": "alice@example.com"}
    assert rogue.userinfo_requests[0]["Authorization"] == "Bearer at-1"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        pytest.param(401, {"error": "invalid_token"}, "userinfo-failed", id="401"),
        pytest.param(200, {"email": "x"}, "provider-bad-response", id="no-sub"),
        pytest.param(200, "eyJhbGciOi.signed.jwt", "provider-bad-response", id="signed-jwt"),
    ],
)
async def test_userinfo_failures(
    rogue: RogueProvider, rogue_client: ClientFactory, status: int, body: Any, reason: str
) -> None:
    rogue.userinfo_status, rogue.userinfo_body = status, body
    with pytest.raises(ProviderError) as caught:
        await (await rogue_client()).userinfo("at-1")
    assert caught.value.reason == reason


def test_merge_userinfo_refuses_another_subject() -> None:
    with pytest.raises(ProviderError, match="userinfo-sub-mismatch"):
        merge_userinfo({"sub": "alice"}, {"sub": "mallory", "email": "m@example.com"})


def test_merge_userinfo_adds_profile_claims_but_keeps_protocol_claims() -> None:
    id_claims = {
        "sub": "alice",
        "iss": "https://idp",
        "acr": "mfa",
        "auth_time": 5,
        "email": "old@x",
    }
    userinfo = {
        "sub": "alice",
        "acr": "none",
        "auth_time": 99,
        "iss": "https://evil",
        "email": "new@x",
        "groups": ["g"],
    }
    merged = merge_userinfo(id_claims, userinfo)
    assert merged == {
        "sub": "alice",
        "iss": "https://idp",
        "acr": "mfa",
        "auth_time": 5,
        "email": "new@x",
        "groups": ["g"],
    }


# ---------------------------------------------------------------- end session


async def test_end_session_url(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    client = await rogue_client()
    assert (
        client.end_session_url(id_token_hint="t", post_logout_redirect_uri=None) is None
    )  # not loaded
    await client.load()
    url = client.end_session_url(
        id_token_hint="id.tok.en", post_logout_redirect_uri="https://app/bye", state="s1"
    )
    assert url is not None and url.startswith(f"{rogue.issuer}/session/end?")
    assert parse_qs(urlsplit(url).query) == {
        "id_token_hint": ["id.tok.en"],
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": ["https://app/bye"],
        "state": ["s1"],
    }
    bare = client.end_session_url(id_token_hint=None, post_logout_redirect_uri=None)
    assert bare is not None and parse_qs(urlsplit(bare).query) == {"client_id": [CLIENT_ID]}


async def test_end_session_endpoint_query_is_kept(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.discovery_overrides = {
        "end_session_endpoint": f"{rogue.issuer}/logout?tenant=t1&state=old"
    }
    client = await rogue_client()
    await client.load()
    url = client.end_session_url(id_token_hint="h", post_logout_redirect_uri=None, state="new")
    assert url is not None
    assert parse_qs(urlsplit(url).query) == {
        "tenant": ["t1"],
        "state": ["new"],
        "id_token_hint": ["h"],
        "client_id": [CLIENT_ID],
    }


# ---------------------------------------------------------------- JWKS over HTTP


def _id_token(rogue: RogueProvider, kid: str, slot: int) -> tuple[str, float]:
    now = time.time()
    claims = {
        "iss": rogue.issuer,
        "aud": CLIENT_ID,
        "sub": "alice",
        "exp": now + 300,
        "iat": now,
        "nonce": "n1",
    }
    return mint(claims, rsa_key(kid, slot=slot)), now


async def _validate(client: OIDCClient, token: str, now: float) -> dict[str, Any]:
    return await client.validate_id_token(token, nonce="n1", now=now)


async def test_key_rotation_over_http(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    client = await rogue_client(jwks_refetch_interval=0)
    token, now = _id_token(rogue, "rsa-1", 0)
    assert (await _validate(client, token, now))["sub"] == "alice"
    rogue.published = [rsa_key("rsa-9", slot=9)]  # rotate: old key gone, new key signs
    token, now = _id_token(rogue, "rsa-9", 9)
    assert (await _validate(client, token, now))["sub"] == "alice"
    assert rogue.jwks_fetches == 2
    old, now = _id_token(rogue, "rsa-1", 0)
    with pytest.raises(TokenInvalid, match="token-kid-unknown"):
        await _validate(client, old, now)


async def test_unknown_kid_flood_over_http_is_rate_limited(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    client = await rogue_client()  # default interval: 60 s
    token, now = _id_token(rogue, "rsa-1", 0)
    await _validate(client, token, now)
    for i in range(20):
        forged, now = _id_token(rogue, f"forged-{i}", 3)
        with pytest.raises(TokenInvalid, match="token-kid-unknown"):
            await _validate(client, forged, now)
    assert rogue.jwks_fetches == 1 and rogue.discovery_fetches == 1


async def test_bearer_and_logout_validation_load_discovery_first(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    client = await rogue_client()  # not loaded: `issuer` still has pydantic's slash
    now = time.time()
    key = rsa_key("rsa-1")
    access = mint({"iss": rogue.issuer, "aud": "api://orders", "sub": "svc", "iat": now, "exp": now + 60}, key)
    claims = await client.validate_access_token(access, audiences=["api://orders"], now=now)
    assert claims["sub"] == "svc"
    logout = mint(
        {
            "iss": rogue.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 60,
            "jti": "j1",
            "sid": "s1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        },
        key,
        header={"typ": "logout+jwt"},
    )
    assert (await client.validate_logout_token(logout, now=now))["sid"] == "s1"
    with pytest.raises(TokenInvalid, match="token-audience-invalid"):
        await client.validate_access_token(access, audiences=[CLIENT_ID], now=now)


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("where", ["same-origin", "other-origin"])
async def test_discovery_redirects_are_not_followed(
    rogue: RogueProvider,
    rogue_client: ClientFactory,
    status: int,
    where: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Same origin or not: the fetch never moves (a redirect could hand the keys we
    # trust to whoever controls its target).
    target = f"{rogue.issuer}/copy" if where == "same-origin" else "http://127.0.0.9:1/evil"
    rogue.redirects["/.well-known/openid-configuration"] = (status, target)
    client = await rogue_client()
    with pytest.raises(ProviderError) as caught:
        await client.load()
    assert caught.value.reason == "provider-bad-response"
    assert f"HTTP {status} redirect" in str(caught.value)
    assert rogue.discovery_fetches == 0 and client.metadata is None
    assert any("redirects are not followed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_jwks_redirects_are_not_followed(
    rogue: RogueProvider, rogue_client: ClientFactory, status: int
) -> None:
    rogue.discovery_overrides["jwks_uri"] = f"{rogue.issuer}/old-jwks"
    rogue.redirects["/old-jwks"] = (status, f"{rogue.issuer}/jwks")  # the real keys
    client = await rogue_client()
    now = time.time()
    token = mint({"iss": rogue.issuer, "aud": "api://x", "sub": "s", "iat": now, "exp": now + 60}, rsa_key("rsa-1"))
    with pytest.raises(ProviderError, match="redirect"):
        await client.validate_access_token(token, audiences=["api://x"], now=now)
    assert rogue.redirected == ["/old-jwks"] and rogue.jwks_fetches == 0


@pytest.mark.parametrize("status", [302, 307])
async def test_token_endpoint_redirect_is_not_followed(
    rogue: RogueProvider, rogue_client: ClientFactory, status: int
) -> None:
    rogue.redirects["/token"] = (status, f"{rogue.issuer}/token")
    client = await rogue_client()
    with pytest.raises(ProviderError, match="redirect"):
        await client.exchange_code("c", code_verifier="v", redirect_uri="http://gw/cb")
    assert rogue.token_requests == []  # the secret never went anywhere else


@pytest.mark.parametrize(
    ("overrides", "hosts"),
    [
        pytest.param({}, (), id="all-on-the-issuer"),
        pytest.param(
            {"jwks_uri": "https://keys.cdn.example/jwks"},
            (("jwks_uri", "keys.cdn.example"),),
            id="jwks-elsewhere",
        ),
        pytest.param(
            {"token_endpoint": "https://login.other.example/token", "end_session_endpoint": "https://x.example:8443/end"},
            (("token_endpoint", "login.other.example"), ("end_session_endpoint", "x.example:8443")),
            id="several",
        ),
    ],
)
async def test_endpoints_on_other_hosts_are_logged_once(
    rogue: RogueProvider,
    rogue_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, Any],
    hosts: tuple[tuple[str, str], ...],
) -> None:
    rogue.discovery_overrides.update(overrides)
    client = await rogue_client()
    await client.load()
    await client.load(refresh=True)
    warnings = [r for r in caplog.records if "hosts other than the issuer" in r.getMessage()]
    if not hosts:
        assert warnings == []
        return
    (warning,) = warnings  # once, not per load
    assert warning.levelname == "WARNING"
    message = warning.getMessage()
    assert "provider rogue" in message and urlsplit(rogue.issuer).netloc in message
    assert all(f"{name} on {host}" in message for name, host in hosts)
