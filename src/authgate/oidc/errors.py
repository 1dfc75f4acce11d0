"""The three OIDC failures, each with a closed vocabulary of kebab-case reasons.

Contract: every failure in `authgate.oidc` is one of
- `LoginError` — the browser came back from the provider with something we refuse;
- `TokenInvalid` — a JWT (ID, access or logout token) failed validation;
- `ProviderError` — the provider could not be reached or answered badly.
Each carries a `reason` from the Literal sets below (STYLE.md lesson 2, "a few classes
with a reason code"); the same strings exist in `authgate.decision.Reason`, so callers
map them with `reason_of`. `detail` is for operators' logs only: it never holds raw
provider bodies or token contents, and pages show only the reason and the sanitized
OAuth `error` code.
Pure module: no aiohttp or jwt imports.
"""

from __future__ import annotations

from typing import Literal, get_args

LoginReason = Literal[
    "login-provider-error",
    "login-state-mismatch",
    "login-state-expired",
    "login-state-invalid",
    "login-code-missing",
    "login-iss-mismatch",
]

TokenReason = Literal[
    "token-malformed",
    "token-alg-not-allowed",
    "token-signature-invalid",
    "token-issuer-invalid",
    "token-audience-invalid",
    "token-azp-invalid",
    "token-expired",
    "token-not-yet-valid",
    "token-iat-invalid",
    "token-nonce-invalid",
    "token-kid-unknown",
    "token-kid-missing",
    "token-claim-missing",
    "token-type-invalid",
    "token-events-invalid",
    "token-nonce-present",
    "token-subject-mismatch",
    "token-inactive",
    "token-replayed",  # a SET's `jti` seen before (authgate.signals.receive)
]

ProviderReason = Literal[
    "provider-unreachable",
    "provider-timeout",
    "provider-bad-response",
    "provider-issuer-mismatch",
    "token-exchange-failed",
    "userinfo-failed",
    "userinfo-sub-mismatch",
]

LOGIN_REASONS: frozenset[str] = frozenset(get_args(LoginReason))
TOKEN_REASONS: frozenset[str] = frozenset(get_args(TokenReason))
PROVIDER_REASONS: frozenset[str] = frozenset(get_args(ProviderReason))


class LoginError(Exception):
    """The authorization response is refused. `error` / `error_description` are the
    provider's (sanitized) words, set only for `login-provider-error`."""

    def __init__(
        self,
        reason: LoginReason,
        *,
        error: str | None = None,
        error_description: str | None = None,
    ) -> None:
        super().__init__(reason if error is None else f"{reason}: {error}")
        self.reason: LoginReason = reason
        self.error = error
        self.error_description = error_description


class TokenInvalid(Exception):
    """A JWT failed validation; `detail` names the claim or check, for logs."""

    def __init__(self, reason: TokenReason, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason: TokenReason = reason
        self.detail = detail


class ProviderError(Exception):
    """A call to the provider failed. `oauth_error` is the OAuth `error` code of a
    refused token request (`invalid_grant` means the grant is gone: end the session);
    `status` the HTTP status of a refused userinfo call."""

    def __init__(
        self,
        reason: ProviderReason,
        detail: str | None = None,
        *,
        oauth_error: str | None = None,
        status: int | None = None,
    ) -> None:
        text = reason if oauth_error is None else f"{reason} ({oauth_error})"
        super().__init__(text if detail is None else f"{text}: {detail}")
        self.reason: ProviderReason = reason
        self.detail = detail
        self.oauth_error = oauth_error
        self.status = status  # the HTTP status of a refusal (userinfo: 401 = token refused)
