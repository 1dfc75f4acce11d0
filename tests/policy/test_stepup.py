"""Step-up and just-in-time elevation: when to step up, and what must come back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from authgate.config.schema_policy import ConsentConfig, StepUpConfig
from authgate.identity import Identity
from authgate.policy import reasons as r
from authgate.policy.compile import compile_step_up
from authgate.policy.stepup import (
    StepUpNeed,
    check_step_up_result,
    consent_missing,
    step_up_needed,
)
from tests.policy.personas import (
    MINUTE,
    NOW,
    alice_admin,
    anonymous,
    bob_contractor,
    carol_customer,
)

RULES = compile_step_up(
    "hr",
    [
        StepUpConfig.model_validate(
            {"paths": ["/payroll/**"], "acr": "urn:corp:mfa", "max_age": "5m"}
        ),
        StepUpConfig.model_validate({"amr": ["hwk"]}),
    ],
)
fresh_alice = replace(alice_admin, auth_time=NOW - 2 * MINUTE)
no_auth_time = replace(alice_admin, auth_time=None)
P0, P1 = "routes[hr].step_up[0]", "routes[hr].step_up[1]"


@pytest.mark.parametrize(
    ("identity", "path", "expected"),
    [
        (fresh_alice, "/payroll/run", None),
        (alice_admin, "/payroll/run", (r.AUTH_AGE_EXPIRED, P0)),  # 10 minutes > 5
        (alice_admin, "/profile", None),  # other paths keep working
        (bob_contractor, "/payroll/run", (r.ACR_INSUFFICIENT, P0)),
        (bob_contractor, "/profile", (r.AMR_INSUFFICIENT, P1)),
        (carol_customer, "/payroll/run", (r.ACR_INSUFFICIENT, P0)),
        (no_auth_time, "/payroll/run", (r.AUTH_AGE_EXPIRED, P0)),  # age unknown
        (anonymous, "/profile", (r.USER_UNAUTHENTICATED, P1)),
        (fresh_alice, "/payroll", None),  # `/payroll/**` does not cover `/payroll`...
        (bob_contractor, "/payroll", (r.AMR_INSUFFICIENT, P1)),  # ...the next rule does
    ],
)
def test_step_up_needed(
    identity: Identity | None, path: str, expected: tuple[str, str] | None
) -> None:
    need = step_up_needed(RULES, identity, path, NOW)
    assert (None if need is None else (need.reason, need.rule)) == expected


def test_need_carries_what_to_ask_the_provider() -> None:
    need = step_up_needed(RULES, bob_contractor, "/payroll/x", NOW)
    assert need == StepUpNeed("urn:corp:mfa", (), 300.0, P0, r.ACR_INSUFFICIENT)


def test_just_in_time_elevation_expires_and_steps_up_again() -> None:
    elevated = replace(alice_admin, auth_time=NOW)
    assert step_up_needed(RULES, elevated, "/payroll/x", NOW + 4 * MINUTE) is None
    assert step_up_needed(RULES, elevated, "/payroll/x", NOW + 5 * MINUTE) is None  # boundary
    later = step_up_needed(RULES, elevated, "/payroll/x", NOW + 6 * MINUTE)
    assert later is not None and later.reason == r.AUTH_AGE_EXPIRED
    assert step_up_needed(RULES, elevated, "/profile", NOW + 8 * 3600) is None


def test_no_rules_no_step_up() -> None:
    assert step_up_needed((), anonymous, "/", NOW) is None


NEED = StepUpNeed("urn:corp:mfa", ("hwk",), 300.0, P0, r.AUTH_AGE_EXPIRED)
GOOD: dict[str, Any] = {"acr": "urn:corp:mfa", "amr": ["pwd", "hwk"], "auth_time": NOW + 20}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, None),
        ({"auth_time": NOW - 30}, None),  # within the 60 s leeway
        ({"auth_time": NOW - 61}, r.STEP_UP_FAILED),  # an old session reused
        ({"auth_time": NOW - 3600}, r.STEP_UP_FAILED),
        ({"auth_time": None}, r.STEP_UP_FAILED),
        ({"auth_time": "1772445700"}, r.STEP_UP_FAILED),  # not a number
        ({"auth_time": True}, r.STEP_UP_FAILED),
        ({"auth_time": 10**400}, r.STEP_UP_FAILED),  # too large for a float
        ({"acr": "urn:corp:pwd"}, r.STEP_UP_FAILED),
        ({"acr": None}, r.STEP_UP_FAILED),
        ({"acr": ["urn:corp:mfa"]}, r.STEP_UP_FAILED),
        ({"amr": ["pwd", "otp"]}, r.STEP_UP_FAILED),
        ({"amr": "hwk"}, r.STEP_UP_FAILED),  # amr is a JSON array (RFC 8176)
        ({"amr": None}, r.STEP_UP_FAILED),
    ],
)
def test_check_step_up_result_on_claims(change: dict[str, Any], expected: str | None) -> None:
    claims = {key: value for key, value in {**GOOD, **change}.items() if value is not None}
    assert check_step_up_result(NEED, claims, login_started_at=NOW, leeway=60.0) == expected


def test_check_step_up_result_on_an_identity() -> None:
    came_back = replace(alice_admin, auth_time=NOW + 20)
    assert check_step_up_result(NEED, came_back, NOW, 60.0) is None
    assert check_step_up_result(NEED, bob_contractor, NOW, 60.0) == r.STEP_UP_FAILED


def test_freshness_is_checked_even_without_max_age() -> None:
    # the gateway always sends prompt=login: an old auth_time means no new login
    need = StepUpNeed(None, (), None, P1, r.AMR_INSUFFICIENT)
    assert check_step_up_result(need, {"auth_time": NOW + 1}, NOW, 60.0) is None
    assert check_step_up_result(need, {"auth_time": NOW - 600}, NOW, 60.0) == r.STEP_UP_FAILED


CONSENT = ConsentConfig.model_validate(
    {"require": ["terms-2026"], "url": "https://id.example.com/consent"}
)


@pytest.mark.parametrize(
    ("config", "identity", "missing"),
    [
        (None, bob_contractor, False),
        (CONSENT, alice_admin, False),  # a list
        (CONSENT, carol_customer, False),  # an object with a date
        (CONSENT, bob_contractor, True),  # no claim
        (CONSENT.model_copy(update={"require": ["marketing"]}), carol_customer, True),  # false
        (CONSENT.model_copy(update={"claim": "legal.accepted"}), alice_admin, True),
    ],
)
def test_consent_missing(config: ConsentConfig | None, identity: Identity, missing: bool) -> None:
    assert consent_missing(config, identity) is missing
