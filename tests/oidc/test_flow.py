"""Login bookkeeping: login state, PKCE, the authorization URL, the callback checks."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from authgate.oidc.errors import LoginError
from authgate.oidc.flow import (
    LoginState,
    authorization_url,
    check_callback,
    check_login_age,
    code_challenge,
    new_login_state,
)

ISSUER = "https://idp.example.com"
NOW = 1_700_000_000.0
REDIRECT = "https://app.example.com/.authgate/callback"


@pytest.fixture
def login() -> LoginState:
    return new_login_state("corp", "https://app.example.com/x?y=1", NOW)


# ---------------------------------------------------------------- login state


def test_new_login_state_has_fresh_unguessable_secrets() -> None:
    first = new_login_state("corp", "/", NOW)
    second = new_login_state("corp", "/", NOW)
    for name in ("state", "nonce", "code_verifier"):
        assert getattr(first, name) != getattr(second, name)
        assert len(getattr(first, name)) >= 43  # 256 bits
    assert len({first.state, first.nonce, first.code_verifier}) == 3
    # RFC 7636 §4.1: 43-128 unreserved characters.
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", first.code_verifier)
    assert first.created_at == NOW and first.acr_values is None


def test_login_state_round_trips_through_bytes() -> None:
    login = new_login_state("corp", "/back", NOW, acr_values="mfa", max_age=300, prompt="login")
    assert LoginState.from_bytes(login.to_bytes()) == login


def _encoded(login: LoginState, **changes: Any) -> bytes:
    raw = json.loads(login.to_bytes())
    raw.update(changes)
    return json.dumps({k: v for k, v in raw.items() if v != "<drop>"}).encode()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"state": 5}, id="state-not-string"),
        pytest.param({"created_at": True}, id="created-at-bool"),
        pytest.param({"created_at": "now"}, id="created-at-string"),
        pytest.param({"max_age": "300"}, id="max-age-string"),
        pytest.param({"max_age": 1.5}, id="max-age-float"),
        pytest.param({"prompt": ["login"]}, id="prompt-list"),
        pytest.param({"nonce": "<drop>"}, id="field-missing"),
        pytest.param({"admin": True}, id="field-extra"),
    ],
)
def test_login_state_refuses_other_shapes(login: LoginState, changes: dict[str, Any]) -> None:
    with pytest.raises(LoginError) as caught:
        LoginState.from_bytes(_encoded(login, **changes))
    assert caught.value.reason == "login-state-invalid"


@pytest.mark.parametrize("data", [b"", b"not json", b"[1,2]", b"\xff\xfe", b"null"])
def test_login_state_refuses_garbage(data: bytes) -> None:
    with pytest.raises(LoginError, match="login-state-invalid"):
        LoginState.from_bytes(data)


@pytest.mark.parametrize(
    ("age", "expired"), [(0, False), (599, False), (600, False), (601, True), (-30, False)]
)
def test_check_login_age(login: LoginState, age: float, expired: bool) -> None:
    if expired:
        with pytest.raises(LoginError, match="login-state-expired"):
            check_login_age(login, now=NOW + age, timeout=600)
    else:
        check_login_age(login, now=NOW + age, timeout=600)


# ---------------------------------------------------------------- PKCE


def test_code_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("verifier", ["short", "x" * 129, "a" * 42 + "!", "é" * 43, ""])
def test_code_challenge_refuses_invalid_verifiers(verifier: str) -> None:
    with pytest.raises(ValueError, match="RFC 7636"):
        code_challenge(verifier)


# ---------------------------------------------------------------- authorization URL


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _url(login: LoginState, endpoint: str = f"{ISSUER}/auth", **extra: str) -> str:
    return authorization_url(
        endpoint,
        client_id="gateway",
        redirect_uri=REDIRECT,
        scopes=["openid", "email", "groups"],
        login=login,
        extra_params=extra,
    )


def test_authorization_url_carries_the_code_flow_with_s256(login: LoginState) -> None:
    url = _url(login)
    assert url.startswith(f"{ISSUER}/auth?")
    assert _query(url) == {
        "response_type": ["code"],
        "client_id": ["gateway"],
        "redirect_uri": [REDIRECT],
        "scope": ["openid email groups"],
        "state": [login.state],
        "nonce": [login.nonce],
        "code_challenge": [code_challenge(login.code_verifier)],
        "code_challenge_method": ["S256"],
    }


def test_authorization_url_never_carries_the_verifier(login: LoginState) -> None:
    assert login.code_verifier not in _url(login)


@pytest.mark.parametrize(
    "name",
    [
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "redirect_uri",
        "response_type",
        "client_id",
        "scope",
        "response_mode",
        "request",
        "request_uri",
    ],
)
def test_extra_params_cannot_override_protected_params(login: LoginState, name: str) -> None:
    query = _query(_url(login, **{name: "evil"}))
    assert "evil" not in [v for values in query.values() for v in values]
    assert query["state"] == [login.state] and query["nonce"] == [login.nonce]
    assert query["code_challenge_method"] == ["S256"]


def test_extra_params_are_added(login: LoginState) -> None:
    query = _query(_url(login, login_hint="alice@example.com", hd="example.com"))
    assert query["login_hint"] == ["alice@example.com"] and query["hd"] == ["example.com"]


def test_step_up_values_replace_extra_param_defaults(login: LoginState) -> None:
    step_up = replace(login, acr_values="urn:corp:mfa", max_age=300, prompt="login")
    query = _query(_url(step_up, prompt="select_account", acr_values="pwd"))
    assert query["prompt"] == ["login"]
    assert query["acr_values"] == ["urn:corp:mfa"]
    assert query["max_age"] == ["300"]


def test_extra_param_defaults_apply_without_step_up(login: LoginState) -> None:
    assert _query(_url(login, prompt="select_account"))["prompt"] == ["select_account"]


def test_endpoint_query_is_kept_but_cannot_smuggle_protected_params(login: LoginState) -> None:
    url = _url(login, endpoint=f"{ISSUER}/authorize?p=B2C_1_signin&state=evil")
    pairs = parse_qsl(urlsplit(url).query)
    assert ("p", "B2C_1_signin") in pairs
    assert [v for k, v in pairs if k == "state"] == [login.state]


# ---------------------------------------------------------------- callback


def _callback(login: LoginState, **params: str | None) -> dict[str, str]:
    query: dict[str, str | None] = {"code": "the-code", "state": login.state, "iss": ISSUER}
    query.update(params)
    return {k: v for k, v in query.items() if v is not None}


@pytest.mark.parametrize(
    ("params", "iss_supported", "reason"),
    [
        pytest.param({}, True, None, id="ok"),
        pytest.param({"iss": None}, False, None, id="ok-no-iss-not-advertised"),
        pytest.param({"state": None}, True, "login-state-mismatch", id="state-missing"),
        pytest.param({"state": "forged"}, True, "login-state-mismatch", id="state-wrong"),
        pytest.param({"state": ""}, True, "login-state-mismatch", id="state-empty"),
        pytest.param({"iss": "https://evil.example"}, True, "login-iss-mismatch", id="iss-wrong"),
        pytest.param(
            {"iss": "https://evil.example"},
            False,
            "login-iss-mismatch",
            id="iss-wrong-unadvertised",
        ),
        pytest.param({"iss": ISSUER + "/"}, True, "login-iss-mismatch", id="iss-trailing-slash"),
        pytest.param({"iss": None}, True, "login-iss-mismatch", id="iss-missing-advertised"),
        pytest.param({"code": None}, True, "login-code-missing", id="code-missing"),
        pytest.param({"code": ""}, True, "login-code-missing", id="code-empty"),
        pytest.param(
            {"code": None, "error": "access_denied"}, True, "login-provider-error", id="error"
        ),
        pytest.param(
            {"error": "access_denied"}, True, "login-provider-error", id="error-with-code"
        ),
        pytest.param(
            {"error": "access_denied", "state": "forged"},
            True,
            "login-state-mismatch",
            id="error-with-forged-state",
        ),
        pytest.param(
            {"error": "access_denied", "iss": "https://evil.example"},
            True,
            "login-iss-mismatch",
            id="error-from-other-issuer",
        ),
    ],
)
def test_check_callback(
    login: LoginState, params: dict[str, str | None], iss_supported: bool, reason: str | None
) -> None:
    query = _callback(login, **params)
    if reason is None:
        assert (
            check_callback(query, login=login, issuer=ISSUER, iss_supported=iss_supported)
            == "the-code"
        )
        return
    with pytest.raises(LoginError) as caught:
        check_callback(query, login=login, issuer=ISSUER, iss_supported=iss_supported)
    assert caught.value.reason == reason


def test_provider_error_text_is_sanitized(login: LoginState) -> None:
    description = 'Denied "by" policy\\\x00\n<b>' + "x" * 500
    query = _callback(login, code=None, error="access_denied\r\n", error_description=description)
    with pytest.raises(LoginError) as caught:
        check_callback(query, login=login, issuer=ISSUER, iss_supported=True)
    error = caught.value
    assert error.error == "access_denied"
    assert error.error_description is not None
    assert error.error_description.startswith("Denied by policy<b>x")
    assert len(error.error_description) <= 200
    assert not set('"\\\x00\n\r') & set(error.error_description)


def test_provider_error_without_usable_code_text(login: LoginState) -> None:
    query = _callback(login, code=None, error="\x00\x01")
    with pytest.raises(LoginError) as caught:
        check_callback(query, login=login, issuer=ISSUER, iss_supported=True)
    assert caught.value.error == "unknown_error" and caught.value.error_description is None
