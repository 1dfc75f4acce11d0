"""Login bookkeeping of the authorization code flow, as pure functions (sans-I/O).

Contract:
- `new_login_state(...)` makes the per-login secrets (state, nonce, PKCE verifier) and
  remembers where to return; `LoginState.to_bytes()` / `from_bytes()` carry it through
  the signed cookie or the store (the caller signs/encrypts; this module only encodes).
- `authorization_url(...)` builds the request to the provider's authorization endpoint;
  `authorization_params(...)` are its parameters, which a pushed authorization request
  (RFC 9126) sends to the provider first, and `pushed_authorization_url(...)` the
  request that then names only `client_id` and the returned `request_uri`.
- `check_callback(...)` checks the authorization response and returns the `code`, or
  raises `LoginError` with a reason from `errors.LoginReason`.
Checks happen in this order: state (nothing in a response that is not ours is
trusted, not even its error text), iss (RFC 9207), error, code.
Pure module: no aiohttp or jwt imports (STYLE.md lesson 4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authgate.oidc.errors import LoginError

__all__ = [
    "LoginError",
    "LoginState",
    "authorization_params",
    "authorization_url",
    "check_callback",
    "check_login_age",
    "code_challenge",
    "new_login_state",
    "plain_authorization_url",
    "pushed_authorization_url",
    "sanitize_error_text",
]

# RFC 7636 §4.1: code_verifier = 43*128unreserved.
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
# RFC 6749 §4.1.2.1: `error` and `error_description` are limited to these characters.
_ERROR_CHARS = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_MAX_ERROR_TEXT = 200

# Parameters the gateway alone sets. An operator's `extra_auth_params` naming one of
# them is ignored: letting config replace state, nonce or the PKCE challenge would
# switch off CSRF, replay and code-injection defences (RFC 9700 §2.1, §4.5, §4.7), and
# `response_mode` / `request` / `request_uri` could move or replace all of them
# (a request object's parameters win over the query, OIDC Core §6.3.3).
PROTECTED_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
        "request",
        "request_uri",
    }
)
# Step-up parameters: extra_auth_params may give a provider-wide default (e.g.
# `prompt=select_account`); the login's own value, when set, replaces it.
_STEP_UP_PARAMS = ("acr_values", "max_age", "prompt")


@dataclass(frozen=True, slots=True)
class LoginState:
    """One login in progress, between leaving for the provider and coming back."""

    provider_id: str
    state: str
    nonce: str
    code_verifier: str
    return_to: str
    created_at: float
    acr_values: str | None = None  # step-up: space-separated, OIDC Core §3.1.2.1
    max_age: int | None = None  # step-up: seconds
    prompt: str | None = None  # step-up: usually "login"
    amr: str | None = None  # step-up: methods the new login must show, space-separated
    mfa: str | None = None  # MFA step-up: the new login must show ONE of these methods

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LoginState:
        """Decode; anything but exactly our shape is `login-state-invalid`."""
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise LoginError("login-state-invalid") from None
        if isinstance(raw, dict):
            raw.setdefault("mfa", None)  # a login started by a version without it
        if not isinstance(raw, dict) or set(raw) != {f.name for f in fields(cls)}:
            raise LoginError("login-state-invalid")
        return cls(**_typed_state_fields(raw))


def _typed_state_fields(raw: dict[str, Any]) -> dict[str, Any]:
    def check(ok: bool) -> None:
        if not ok:
            raise LoginError("login-state-invalid")

    for name in ("provider_id", "state", "nonce", "code_verifier", "return_to"):
        check(isinstance(raw[name], str))
    check(isinstance(raw["created_at"], int | float) and not isinstance(raw["created_at"], bool))
    for name in ("acr_values", "prompt", "amr", "mfa"):
        check(raw[name] is None or isinstance(raw[name], str))
    max_age = raw["max_age"]
    check(max_age is None or (isinstance(max_age, int) and not isinstance(max_age, bool)))
    return raw


def new_login_state(
    provider_id: str,
    return_to: str,
    now: float,
    *,
    acr_values: str | None = None,
    max_age: int | None = None,
    prompt: str | None = None,
    amr: str | None = None,
    mfa: str | None = None,
) -> LoginState:
    """Fresh secrets for one login. `secrets.token_urlsafe(32)` gives 43 characters of
    the unreserved set: 256 bits, the RFC 7636 §7.1 recommendation, and a valid
    verifier per §4.1. `return_to` must already be checked against allowed hosts."""
    return LoginState(
        provider_id=provider_id,
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(32),
        return_to=return_to,
        created_at=now,
        acr_values=acr_values,
        max_age=max_age,
        prompt=prompt,
        amr=amr,
        mfa=mfa,
    )


def check_login_age(login: LoginState, *, now: float, timeout: float) -> None:
    """`login-state-expired` when the login took longer than `timeout` seconds: an
    old state is a replay candidate, and the provider's code would be stale anyway."""
    if now - login.created_at > timeout:
        raise LoginError("login-state-expired")


def code_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(verifier))) without padding.
    `plain` is never offered: it gives no protection once the request leaks (§7.2)."""
    if not _VERIFIER.fullmatch(verifier):
        raise ValueError("a PKCE code_verifier is 43-128 unreserved characters (RFC 7636 §4.1)")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    login: LoginState,
    extra_params: Mapping[str, str],
) -> str:
    """The authorization request (OIDC Core §3.1.2.1, RFC 7636 §4.3).

    A query already in `endpoint` is kept (some providers route by it), minus the
    protected parameters. `extra_params` may not override any of PROTECTED_PARAMS —
    those are dropped silently here (documented above); step-up values of `login`
    replace the extra params' defaults.
    """
    own = authorization_params(
        client_id=client_id, redirect_uri=redirect_uri, scopes=scopes, login=login,
        extra_params=extra_params,
    )
    return plain_authorization_url(endpoint, own)


def authorization_params(
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    login: LoginState,
    extra_params: Mapping[str, str],
) -> dict[str, str]:
    """The parameters of the authorization request: `extra_params` (less the
    PROTECTED_PARAMS), then ours. What a pushed request (RFC 9126 §2.1) sends as
    its form, and what the plain request puts in the query."""
    params = {k: v for k, v in extra_params.items() if k not in PROTECTED_PARAMS}
    return params | _own_params(client_id, redirect_uri, scopes, login)


def pushed_authorization_url(endpoint: str, *, client_id: str, request_uri: str) -> str:
    """The authorization request after a push (RFC 9126 §4): only `client_id` and the
    `request_uri` the provider returned; everything else it holds already."""
    return plain_authorization_url(endpoint, {"client_id": client_id, "request_uri": request_uri})


def plain_authorization_url(endpoint: str, own: Mapping[str, str]) -> str:
    """`endpoint` with `own` as its query, beside what the endpoint's own query has
    (less the PROTECTED_PARAMS and the names in `own`)."""
    split = urlsplit(endpoint)
    params = [(k, v) for k, v in parse_qsl(split.query) if k not in PROTECTED_PARAMS]
    params = [(k, v) for k, v in params if k not in own] + list(own.items())
    return urlunsplit(split._replace(query=urlencode(params)))


def _own_params(
    client_id: str, redirect_uri: str, scopes: Sequence[str], login: LoginState
) -> dict[str, str]:
    own = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": login.state,
        "nonce": login.nonce,
        "code_challenge": code_challenge(login.code_verifier),
        "code_challenge_method": "S256",
    }
    for name in _STEP_UP_PARAMS:
        value = getattr(login, name)
        if value is not None:
            own[name] = str(value)
    return own


def check_callback(
    query: Mapping[str, str], *, login: LoginState, issuer: str, iss_supported: bool
) -> str:
    """Check the authorization response of `login`; return the authorization code.

    `issuer` is the provider's exact issuer identifier (from its discovery document);
    `iss_supported` its `authorization_response_iss_parameter_supported`. The caller
    should refuse a callback whose query repeats a parameter (RFC 6749 §3.1) before
    flattening it into this mapping.
    """
    _check_state(query, login)
    _check_iss(query, issuer, iss_supported)
    _check_error(query)
    code = query.get("code")
    if not code:
        raise LoginError("login-code-missing")
    return code


def _check_state(query: Mapping[str, str], login: LoginState) -> None:
    # RFC 6749 §10.12 / RFC 9700 §4.7: the state binds the response to this browser's
    # login (CSRF). Constant-time compare: the state is a secret until it is used.
    state = query.get("state", "")
    if not hmac.compare_digest(state.encode(), login.state.encode()):
        raise LoginError("login-state-mismatch")


def _check_iss(query: Mapping[str, str], issuer: str, iss_supported: bool) -> None:
    # RFC 9207 §2.4 (mix-up attack defence): a present `iss` must equal the issuer we
    # sent the request to, by simple string comparison; when the provider advertises
    # support, a missing `iss` is refused too. Checked for error responses as well.
    iss = query.get("iss")
    if iss is None:
        if iss_supported:
            raise LoginError("login-iss-mismatch")
    elif iss != issuer:
        raise LoginError("login-iss-mismatch")


def _check_error(query: Mapping[str, str]) -> None:
    # RFC 6749 §4.1.2.1 error response. The text ends up on our error page, so it is
    # cut to the characters the RFC allows and to a short length (no markup, no
    # control characters, no page-sized phishing text).
    error = query.get("error")
    if error is None:
        return
    description = query.get("error_description")
    raise LoginError(
        "login-provider-error",
        error=sanitize_error_text(error) or "unknown_error",
        error_description=sanitize_error_text(description) if description else None,
    )


def sanitize_error_text(text: str) -> str:
    """Provider error text cut to RFC 6749's character set and 200 characters."""
    return _ERROR_CHARS.sub("", text)[:_MAX_ERROR_TEXT].strip()
