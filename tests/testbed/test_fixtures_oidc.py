"""The OpenID Provider of the test bed works, driven with an aiohttp client only."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web

from tests.testbed import oidc as oidc_mod
from tests.testbed.oidc import (
    CALLBACK_PATH,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_USERS,
    LoginFailed,
    OIDCProvider,
    client_auth_header,
    decode_jwt_unverified,
    login_at_provider,
    make_client,
    parse_forms,
    pkce_pair,
)
from tests.testbed.ports import free_port


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _authorize(
    session: aiohttp.ClientSession,
    op: OIDCProvider,
    redirect_uri: str,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    user: str = "alice",
    scope: str = "openid email profile groups",
    params: dict[str, str] | None = None,
    allow_consent: bool = False,
    **login: Any,
) -> tuple[dict[str, str], str, str, str]:
    """Run /auth -> login -> redirect; return (callback query, verifier, state, nonce)."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "client_id": client_id,
        "response_type": "code",
        "scope": scope,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **(params or {}),
    }
    target = await login_at_provider(
        session,
        f"{op.endpoint('auth')}?{urlencode(query)}",
        user,
        DEFAULT_USERS[user]["password"],
        allow_consent=allow_consent,
        **login,
    )
    split = urlsplit(target)
    assert f"{split.scheme}://{split.netloc}{split.path}" == redirect_uri
    callback = {k: v[0] for k, v in parse_qs(split.query).items()}
    return callback, verifier, state, nonce


async def _token(
    session: aiohttp.ClientSession,
    op: OIDCProvider,
    data: dict[str, str],
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
) -> tuple[int, dict[str, Any]]:
    async with session.post(
        op.endpoint("token"), data=data, headers=client_auth_header(client_id, client_secret)
    ) as resp:
        return resp.status, await resp.json()


async def test_discovery_and_jwks(oidc_provider: OIDCProvider) -> None:
    assert oidc_provider.issuer == f"http://127.0.0.2:{oidc_provider.port}"
    async with _session() as session:
        async with session.get(oidc_provider.discovery_url) as resp:
            assert resp.status == 200
            meta = await resp.json()
        assert meta["issuer"] == oidc_provider.issuer
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert meta["authorization_response_iss_parameter_supported"] is True
        assert meta["backchannel_logout_supported"] is True
        assert meta["backchannel_logout_session_supported"] is True
        assert meta["claims_parameter_supported"] is True
        assert meta["end_session_endpoint"] == oidc_provider.endpoint("session/end")
        assert meta["introspection_endpoint"] == oidc_provider.endpoint("token/introspection")
        assert meta["revocation_endpoint"] == oidc_provider.endpoint("token/revocation")
        assert {"acr", "amr", "auth_time", "sid", "email", "groups"} <= set(meta["claims_supported"])
        assert meta["acr_values_supported"] == ["pwd", "mfa"]
        async with session.get(meta["jwks_uri"]) as resp:
            jwks = await resp.json()
        kinds = {(k["kty"], k.get("alg")) for k in jwks["keys"]}
        assert ("RSA", "RS256") in kinds and ("EC", "ES256") in kinds
        assert all("d" not in k for k in jwks["keys"])  # public parts only


async def test_code_flow_with_pkce_mfa_userinfo_refresh(oidc_provider: OIDCProvider) -> None:
    op = oidc_provider
    # Any port works for the default client (native/loopback); the gateway is not needed.
    redirect_uri = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    async with _session() as session:
        callback, verifier, state, nonce = await _authorize(
            session, op, redirect_uri, params={"acr_values": "mfa"}, otp="123456"
        )
        assert callback["state"] == state
        assert callback["iss"] == op.issuer  # RFC 9207
        assert "code" in callback

        status, tokens = await _token(
            session,
            op,
            {
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        assert status == 200, tokens
        assert tokens["token_type"].lower() == "bearer"
        assert "refresh_token" in tokens  # without offline_access (issueRefreshToken)
        header, claims = decode_jwt_unverified(tokens["id_token"])
        assert header["alg"] == "RS256" and header["kid"]
        assert claims["iss"] == op.issuer
        assert claims["aud"] == DEFAULT_CLIENT_ID
        assert claims["sub"] == "alice"
        assert claims["nonce"] == nonce
        assert claims["acr"] == "mfa"
        assert claims["amr"] == ["pwd", "otp"]
        assert abs(claims["auth_time"] - time.time()) < 60
        assert claims["email"] == "alice@example.com"
        assert claims["groups"] == ["hr-staff", "admins"]
        assert claims["name"] == "Alice Archer"

        async with session.get(
            op.endpoint("me"), headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ) as resp:
            assert resp.status == 200
            userinfo = await resp.json()
        assert userinfo["sub"] == "alice" and userinfo["groups"] == ["hr-staff", "admins"]

        # Replaying the code fails.
        status, body = await _token(
            session,
            op,
            {
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        assert status == 400 and body["error"] == "invalid_grant"


async def test_refresh_rotation_and_prompt_login(oidc_provider: OIDCProvider) -> None:
    op = oidc_provider
    redirect_uri = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    async with _session() as session:
        callback, verifier, _, _ = await _authorize(session, op, redirect_uri, user="bob")
        status, tokens = await _token(
            session,
            op,
            {
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        assert status == 200, tokens
        _, claims = decode_jwt_unverified(tokens["id_token"])
        assert claims["acr"] == "pwd" and claims["amr"] == ["pwd"]
        assert claims["groups"] == ["contractors"]

        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        status, refreshed = await _token(session, op, refresh)
        assert status == 200, refreshed
        assert refreshed["refresh_token"] != tokens["refresh_token"]  # rotated
        # Replaying the used refresh token fails (and revokes the grant).
        status, body = await _token(session, op, refresh)
        assert status == 400 and body["error"] == "invalid_grant"

        # Step-up: prompt=login with a faked older auth_time and explicit acr/amr
        # (prompt=consent shows the consent page, which login_at_provider accepts).
        old = int(time.time()) - 3600
        callback, verifier, _, _ = await _authorize(
            session,
            op,
            redirect_uri,
            user="bob",
            params={"prompt": "login consent"},
            allow_consent=True,
            acr="urn:example:strong",
            amr=["pwd", "hwk"],
            ts=old,
        )
        status, tokens = await _token(
            session,
            op,
            {
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        assert status == 200, tokens
        _, claims = decode_jwt_unverified(tokens["id_token"])
        assert claims["acr"] == "urn:example:strong"
        assert claims["amr"] == ["pwd", "hwk"]
        assert claims["auth_time"] == old


async def test_wrong_password_and_pkce_required(oidc_provider: OIDCProvider) -> None:
    op = oidc_provider
    redirect_uri = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    async with _session() as session:
        with pytest.raises(LoginFailed, match="Invalid login or password"):
            await login_at_provider(
                session,
                f"{op.endpoint('auth')}?"
                + urlencode(
                    {
                        "client_id": DEFAULT_CLIENT_ID,
                        "response_type": "code",
                        "scope": "openid",
                        "redirect_uri": redirect_uri,
                        "code_challenge": pkce_pair()[1],
                        "code_challenge_method": "S256",
                    }
                ),
                "alice",
                "not-the-password",
            )
        # No code_challenge: the provider redirects back with an error (PKCE required).
        query = {
            "client_id": DEFAULT_CLIENT_ID,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": redirect_uri,
            "state": "s1",
        }
        async with session.get(
            f"{op.endpoint('auth')}?{urlencode(query)}", allow_redirects=False
        ) as resp:
            assert resp.status in (302, 303)
            back = parse_qs(urlsplit(resp.headers["Location"]).query)
        assert back["error"] == ["invalid_request"]
        assert "PKCE" in back["error_description"][0]
        assert back["state"] == ["s1"] and back["iss"] == [op.issuer]


async def test_registered_client_and_backchannel_logout(oidc_provider: OIDCProvider) -> None:
    """A test registers the gateway's exact URLs at runtime; back-channel logout reaches
    127.0.0.1 (the library's SSRF guard is bypassed by the provider's `fetch` option)."""
    op = oidc_provider
    received: list[dict[str, str]] = []

    async def backchannel(request: web.Request) -> web.Response:
        received.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/bc", backchannel)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        base = f"http://127.0.0.1:{port}"
        client = op.register_client(
            redirect_uris=[f"{base}{CALLBACK_PATH}"],
            post_logout_redirect_uris=[f"{base}/bye"],
            backchannel_logout_uri=f"{base}/bc",
        )
        assert client["client_id"] and client["client_secret"]
        async with _session() as session:
            callback, verifier, _, _ = await _authorize(
                session, op, f"{base}{CALLBACK_PATH}", client_id=client["client_id"]
            )
            status, tokens = await _token(
                session,
                op,
                {
                    "grant_type": "authorization_code",
                    "code": callback["code"],
                    "redirect_uri": f"{base}{CALLBACK_PATH}",
                    "code_verifier": verifier,
                },
                client_id=client["client_id"],
                client_secret=client["client_secret"],
            )
            assert status == 200, tokens
            _, id_claims = decode_jwt_unverified(tokens["id_token"])
            assert id_claims["sid"]

            # Introspection works for the client's own token.
            async with session.post(
                op.endpoint("token/introspection"),
                data={"token": tokens["access_token"]},
                headers=client_auth_header(client["client_id"], client["client_secret"]),
            ) as resp:
                assert (await resp.json())["active"] is True

            # RP-initiated logout: confirm form with a hidden xsrf field.
            query = {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": f"{base}/bye",
                "state": "bye-state",
            }
            async with session.get(f"{op.endpoint('session/end')}?{urlencode(query)}") as resp:
                assert resp.status == 200
                forms, _ = parse_forms(await resp.text())
            form = next(f for f in forms if f["id"] == "op.logoutForm")
            assert form["fields"]["xsrf"]
            async with session.post(
                f"{op.issuer}{form['action']}" if form["action"].startswith("/") else form["action"],
                data={**form["fields"], "logout": "yes"},
                allow_redirects=False,
            ) as resp:
                assert resp.status in (302, 303), await resp.text()
                assert resp.headers["Location"] == f"{base}/bye?state=bye-state"
    finally:
        await runner.cleanup()

    assert len(received) == 1, op.log_text()
    header, logout = decode_jwt_unverified(received[0]["logout_token"])
    assert logout["iss"] == op.issuer
    assert logout["aud"] == client["client_id"]
    assert logout["sub"] == "alice"
    assert logout["sid"] == id_claims["sid"]
    assert "http://schemas.openid.net/event/backchannel-logout" in logout["events"]


async def test_factory_exact_client_conform_claims_restart_rotation(oidc_provider_factory: Any) -> None:
    gateway_port = free_port()
    redirect_uri = f"http://127.0.0.1:{gateway_port}{CALLBACK_PATH}"
    op = oidc_provider_factory(
        clients=[make_client("exact", "exact-secret", [redirect_uri])],
        conform_id_token_claims=True,
        ttl={"AccessToken": 120, "IdToken": 120},
    )
    assert op.startup_seconds < 10
    async with _session() as session:
        # Exact matching: another port is refused (no redirect to it).
        verifier, challenge = pkce_pair()
        wrong = {
            "client_id": "exact",
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": f"http://127.0.0.1:{gateway_port + 1}{CALLBACK_PATH}",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        async with session.get(f"{op.endpoint('auth')}?{urlencode(wrong)}", allow_redirects=False) as resp:
            assert resp.status == 400
            assert "redirect_uri did not match" in await resp.text()

        callback, verifier, _, _ = await _authorize(session, op, redirect_uri, client_id="exact")
        status, tokens = await _token(
            session,
            op,
            {
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            client_id="exact",
            client_secret="exact-secret",
        )
        assert status == 200, tokens
        assert tokens["expires_in"] <= 120
        header, claims = decode_jwt_unverified(tokens["id_token"])
        # conformIdTokenClaims: scope claims only from userinfo, not in the ID token.
        assert "email" not in claims and "groups" not in claims
        assert claims["acr"] == "pwd" and "amr" in claims
        async with session.get(
            op.endpoint("me"), headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ) as resp:
            assert (await resp.json())["email"] == "alice@example.com"

        async with session.get(op.endpoint("jwks")) as resp:
            before = {k["kid"] for k in (await resp.json())["keys"]}
    issuer = op.issuer
    op.restart(rotate_keys=True)
    assert op.issuer == issuer  # same port, same issuer
    async with _session() as session:
        async with session.get(op.endpoint("jwks")) as resp:
            after = [k["kid"] for k in (await resp.json())["keys"]]
    assert before < set(after) and len(after) == 4
    assert header["kid"] in after
    op.stop()
    assert not op.running


def test_missing_node_modules_names_the_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(oidc_mod, "OIDC_DIR", tmp_path)
    problem = oidc_mod._node_problem()
    assert problem is not None
    assert "make testbed" in problem and "npm ci --prefix testbed/oidc" in problem


def test_config_is_json(tmp_path: Any) -> None:
    config = oidc_mod.build_config(jwks_path=tmp_path / "k.json")
    assert json.loads(json.dumps(config)) == config
    assert config["clients"][0]["application_type"] == "native"
