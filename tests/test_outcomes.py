"""`authgate.outcomes`: one status per non-policy reason, as the suites expect them.

The expected statuses below are the ones the end-to-end suites pin (tests/hardening,
tests/proxy, tests/login, tests/limits_e2e, tests/forward_auth): the table is checked
against them one by one, so a change to the table is a change to a tested answer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import authgate
from authgate.decision import Outcome, Reason
from authgate.outcomes import AT_PLACE, STATUS, Place, error, refusal, status
from authgate.policy import reasons as policy_reasons

SOURCE = Path(authgate.__file__).parent

# A sign-in or logout token the client brought that does not hold: 400.
CLIENT_FAILURES = [
    Reason.LOGIN_FAILED, Reason.LOGIN_STATE_MISMATCH, Reason.LOGIN_STATE_EXPIRED,
    Reason.LOGIN_STATE_INVALID, Reason.LOGIN_PROVIDER_ERROR, Reason.LOGIN_CODE_MISSING,
    Reason.LOGIN_ISS_MISMATCH, Reason.PROVIDER_UNKNOWN, Reason.CODE_REJECTED,
    Reason.TOKEN_MISSING, Reason.TOKEN_MALFORMED, Reason.TOKEN_ALG_NOT_ALLOWED,
    Reason.TOKEN_SIGNATURE_INVALID, Reason.TOKEN_ISSUER_INVALID, Reason.TOKEN_AUDIENCE_INVALID,
    Reason.TOKEN_AZP_INVALID, Reason.TOKEN_EXPIRED, Reason.TOKEN_NOT_YET_VALID,
    Reason.TOKEN_IAT_INVALID, Reason.TOKEN_NONCE_INVALID, Reason.TOKEN_KID_UNKNOWN,
    Reason.TOKEN_KID_MISSING, Reason.TOKEN_CLAIM_MISSING, Reason.TOKEN_EVENTS_INVALID,
    Reason.TOKEN_NONCE_PRESENT, Reason.TOKEN_REPLAYED, Reason.TOKEN_SUBJECT_MISMATCH,
    Reason.TOKEN_TYPE_INVALID, Reason.TOKEN_INACTIVE,
]  # fmt: skip

EXPECTED = {
    Reason.HOST_INVALID: 400, Reason.PATH_INVALID: 400, Reason.REQUEST_INVALID: 400,
    Reason.DUPLICATE_CREDENTIALS: 400, Reason.OVERRIDE_INVALID: 400,
    Reason.HEADER_TIMEOUT: 408, Reason.BODY_TIMEOUT: 408, Reason.BODY_TOO_SLOW: 408,
    Reason.BODY_TOO_LARGE: 413, Reason.URI_TOO_LONG: 414, Reason.HEADERS_TOO_LARGE: 431,
    Reason.METHOD_NOT_IMPLEMENTED: 501, Reason.TRANSFER_CODING_UNSUPPORTED: 501,
    Reason.CONNECTIONS_EXCEEDED: 503,
    Reason.VERSION_NOT_SUPPORTED: 505,
    Reason.HOST_UNKNOWN: 404, Reason.ROUTE_NOT_FOUND: 404, Reason.METHOD_NOT_ALLOWED: 405,
    Reason.RATE_LIMITED: 429, Reason.LOGIN_BANNED: 429, Reason.RATE_LIMIT_UNAVAILABLE: 503,
    Reason.WEBSOCKET_HANDSHAKE_INVALID: 400, Reason.WEBSOCKET_VERSION_UNSUPPORTED: 400,
    Reason.WEBSOCKET_ORIGIN_DENIED: 403, Reason.WEBSOCKET_ORIGIN_MISSING: 403,
    Reason.WEBSOCKET_LIMIT: 429,
    Reason.UPSTREAM_UNREACHABLE: 502, Reason.UPSTREAM_FAILED: 502, Reason.UPSTREAM_ABORTED: 502,
    Reason.UPSTREAM_TIMEOUT: 504, Reason.UPSTREAM_OVERLOADED: 503, Reason.GATEWAY_ERROR: 500,
    Reason.STORE_UNAVAILABLE: 503, Reason.INTROSPECTION_UNAVAILABLE: 503,
    Reason.PROVIDER_UNREACHABLE: 502, Reason.PROVIDER_TIMEOUT: 504,
    Reason.PROVIDER_BAD_RESPONSE: 502, Reason.PROVIDER_ISSUER_MISMATCH: 502,
    Reason.TOKEN_EXCHANGE_FAILED: 502, Reason.USERINFO_FAILED: 502,
    Reason.USERINFO_SUB_MISMATCH: 502,
    Reason.GATEWAY_ENDPOINT: 200, Reason.ENDPOINT_NOT_FOUND: 404,
    Reason.USER_UNAUTHENTICATED: 401, Reason.LOGIN_CHOOSER: 200, Reason.LOGIN_STARTED: 302,
    Reason.LOGIN_COMPLETED: 302, Reason.LOGOUT_CONFIRM: 200, Reason.LOGOUT: 303,
    Reason.BACKCHANNEL_LOGOUT: 200, Reason.CSRF_INVALID: 403, Reason.CSRF_CROSS_SITE: 403,
    Reason.STEP_UP_FAILED: 403,
    Reason.GRANT_REFUSED: 403,
    **{reason: 200 for reason in Reason if reason.value.startswith("grant-") and reason is not Reason.GRANT_REFUSED},
    **dict.fromkeys(CLIENT_FAILURES, 400),
    Reason.SIGNAL_ACCEPTED: 202, Reason.SIGNAL_INVALID: 400,
    Reason.SIGNAL_AUTHENTICATION_FAILED: 400,
}  # fmt: skip

EXPECTED_AT_PLACE = {
    (Reason.GATEWAY_ENDPOINT, Place.DENIED_PAGE): 403,
    (Reason.GATEWAY_ENDPOINT, Place.FORWARD_AUTH_PEER): 403,
    (Reason.GATEWAY_ENDPOINT, Place.LOGOUT_WITHOUT_SESSION): 303,
    (Reason.LOGIN_CHOOSER, Place.LOGIN_START): 302,
    (Reason.TOKEN_MISSING, Place.LOGIN_CALLBACK): 502,
    (Reason.PROVIDER_TIMEOUT, Place.BACKCHANNEL_LOGOUT): 502,
    (Reason.WEBSOCKET_LIMIT, Place.WEBSOCKET_ROUTE_FULL): 503,
    (Reason.GATEWAY_ENDPOINT, Place.ACCESS_FORM): 303,
}


def test_the_table_is_what_the_suites_expect() -> None:
    assert dict(STATUS) == EXPECTED


def test_the_places_are_what_the_suites_expect() -> None:
    assert dict(AT_PLACE) == EXPECTED_AT_PLACE
    for reason, place in AT_PLACE:
        # A place only ever says something other than the table (else it is noise).
        assert status(reason, place) != STATUS[reason], (reason, place)


def test_policy_reasons_are_not_in_the_table() -> None:
    # The policy answers its own reasons (401 login, 403 denied, `policy.authorize`):
    # one here would let a refusal and the policy disagree about a reason. Two are
    # answered by an endpoint as the policy answers them: userinfo's "nobody is
    # signed in" (401), the callback's step-up that did not hold (403).
    codes = {v for k, v in vars(policy_reasons).items() if k.isupper() and isinstance(v, str)}
    shared = {Reason.USER_UNAUTHENTICATED: 401, Reason.STEP_UP_FAILED: 403}
    policy = {Reason(code) for code in codes} - shared.keys()
    assert Reason.GROUPS_UNAUTHORIZED in policy
    assert sorted(policy & STATUS.keys()) == []
    assert {reason: STATUS[reason] for reason in shared} == shared


def _codes(pattern: str, folder: str) -> set[str]:
    found: set[str] = set()
    for path in (SOURCE / folder).rglob("*.py"):
        found |= set(re.findall(pattern, path.read_text()))
    return found


@pytest.mark.parametrize(
    ("folder", "pattern"),
    [
        # The connection level and the data plane refuse with these (`refusal`).
        ("conn", r"Reason\.([A-Z_]+)"),
        ("dataplane", r"Reason\.([A-Z_]+)"),
        # The codes lower layers raise and the endpoints answer with (`reason_of`).
        ("oidc", r'(?:TokenInvalid|LoginError|ProviderError)\(\s*"([a-z-]+)"'),
    ],
)
def test_every_refusal_reason_raised_has_a_status(folder: str, pattern: str) -> None:
    codes = _codes(pattern, folder)
    assert codes  # the scan finds what it looks for, or it proves nothing
    reasons = {Reason[c] if c.isupper() else Reason(c) for c in codes}
    assert sorted(reasons - STATUS.keys()) == []


def test_provider_failures_are_the_providers_and_token_failures_the_clients() -> None:
    for code in _codes(r'ProviderError\(\s*"([a-z-]+)"', "oidc"):
        assert STATUS[Reason(code)] in (502, 504), code
    for code in _codes(r'(?:TokenInvalid|LoginError)\(\s*"([a-z-]+)"', "oidc"):
        assert STATUS[Reason(code)] == 400, code


def test_refusal_and_error_carry_the_table_status() -> None:
    refused = refusal(Reason.BODY_TOO_LARGE, route_id="app", rule="r")
    assert (refused.outcome, refused.status, refused.route_id, refused.rule) == (
        Outcome.DENY, 413, "app", "r"
    )
    failed = error(Reason.UPSTREAM_TIMEOUT)
    assert (failed.outcome, failed.reasons, failed.status) == (Outcome.ERROR, (Reason.UPSTREAM_TIMEOUT,), 504)
    assert refusal(Reason.GATEWAY_ENDPOINT, place=Place.DENIED_PAGE).status == 403


def test_a_policy_reason_has_no_status_here() -> None:
    with pytest.raises(KeyError):
        status(Reason.GROUPS_UNAUTHORIZED)
