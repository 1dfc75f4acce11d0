"""authorize(): public paths, providers, policy, step-up and consent -> one Decision.

Personas against the routes of files/gateway.yaml; the same function `explain` runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from authgate.config.schema_policy import PolicyConfig
from authgate.config.snapshot import Snapshot, build_snapshot
from authgate.decision import Decision, Outcome, Reason
from authgate.facts import RequestFacts
from authgate.identity import Identity
from authgate.policy.authorize import authorize, policy_input
from authgate.policy.compile import compile_route_policy
from tests.policy.personas import (
    MINUTE,
    NOW,
    PERSONAS,
    alice_admin,
    bob_contractor,
    carol_customer,
)

GATEWAY = Path(__file__).parent / "files" / "gateway.yaml"
alice_fresh = replace(alice_admin, auth_time=NOW - MINUTE)
carol_at_corp = replace(carol_customer, provider="corp")


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return build_snapshot(GATEWAY, {})


def decide_on(
    snapshot: Snapshot,
    route_id: str,
    identity: Identity | None,
    *,
    path: str = "/",
    method: str = "GET",
    country: str | None = "FR",
) -> Decision:
    route = snapshot.routes.by_id(route_id)
    compiled = compile_route_policy(route.config)
    facts = RequestFacts(
        "t", method, "https", "h", path, path, "", "10.1.2.3", "10.1.2.3", False, 0.0, NOW
    )
    return authorize(route, compiled, policy_input(facts, identity, compiled, country=country))


@pytest.mark.parametrize(
    ("route", "persona", "path", "method", "outcome", "status", "rule", "reasons"),
    [
        # hr: written policy, public paths, a step-up rule
        (
            "hr",
            "anonymous",
            "/static/app.css",
            "GET",
            "allow",
            200,
            "routes[hr].public[0]",
            ["route-public"],
        ),
        (
            "hr",
            "alice_admin",
            "/",
            "GET",
            "allow",
            200,
            "routes[hr].policy.allow[0]",
            ["groups-ok", "mfa-ok"],
        ),
        ("hr", "anonymous", "/", "GET", "login", 401, None, ["user-unauthenticated"]),
        (
            "hr",
            "bob_contractor",
            "/docs/a",
            "GET",
            "allow",
            200,
            "routes[hr].policy.allow[1]",
            ["groups-ok", "method-ok", "path-ok"],
        ),
        (
            "hr",
            "bob_contractor",
            "/docs/a",
            "POST",
            "deny",
            403,
            None,
            ["policy-no-match", "groups-unauthorized", "method-unauthorized"],
        ),
        (
            "hr",
            "alice_admin",
            "/internal/x",
            "GET",
            "deny",
            403,
            "routes[hr].policy.deny[0]",
            ["path-unauthorized"],
        ),
        (
            "hr",
            "anonymous",
            "/internal/x",
            "GET",
            "deny",
            403,
            "routes[hr].policy.deny[0]",
            ["path-unauthorized"],
        ),
        ("hr", "carol_customer", "/", "GET", "login", 401, None, ["provider-not-accepted"]),
        (
            "hr",
            "alice_admin",
            "/payroll/x",
            "GET",
            "step_up",
            401,
            "routes[hr].step_up[0]",
            ["auth-age-expired"],
        ),
        (
            "hr",
            "alice_fresh",
            "/payroll/x",
            "GET",
            "allow",
            200,
            "routes[hr].policy.allow[0]",
            ["groups-ok", "mfa-ok"],
        ),
        # intranet: the workforce default (authenticated and MFA)
        (
            "intranet",
            "alice_admin",
            "/",
            "GET",
            "allow",
            200,
            "routes[intranet].default[workforce].allow[0]",
            ["user-authenticated", "mfa-ok"],
        ),
        # the workforce default refuses for MFA alone: a step-up, not a dead-end 403
        (
            "intranet",
            "bob_contractor",
            "/",
            "GET",
            "step_up",
            401,
            "routes[intranet].default[workforce]",
            ["mfa-required"],
        ),
        ("intranet", "anonymous", "/", "GET", "login", 401, None, ["user-unauthenticated"]),
        # shop: the customer default, consent required
        (
            "shop",
            "anonymous",
            "/products/1",
            "GET",
            "allow",
            200,
            "routes[shop].public[1]",
            ["route-public"],
        ),
        (
            "shop",
            "carol_customer",
            "/cart",
            "GET",
            "allow",
            200,
            "routes[shop].default[customer].allow[0]",
            ["user-authenticated"],
        ),
        (
            "shop",
            "bob_contractor",
            "/cart",
            "GET",
            "deny",
            403,
            "routes[shop].consent",
            ["consent-required"],
        ),
        ("shop", "anonymous", "/cart", "GET", "login", 401, None, ["user-unauthenticated"]),
        # api: bearer tokens through the same policies
        (
            "api",
            "alice_admin",
            "/v1/orders",
            "GET",
            "allow",
            200,
            "routes[api].policy.allow[0]",
            ["claim-ok", "method-ok"],
        ),
        (
            "api",
            "bob_contractor",
            "/v1/orders",
            "GET",
            "deny",
            403,
            None,
            ["policy-no-match", "claim-unauthorized", "roles-unauthorized"],
        ),
        ("api", "anonymous", "/v1/orders", "GET", "login", 401, None, ["user-unauthenticated"]),
    ],
)
def test_personas(
    snapshot: Snapshot,
    route: str,
    persona: str,
    path: str,
    method: str,
    outcome: str,
    status: int,
    rule: str | None,
    reasons: list[str],
) -> None:
    identity = {**PERSONAS, "alice_fresh": alice_fresh}[persona]
    decision = decide_on(snapshot, route, identity, path=path, method=method)
    assert (decision.outcome.value, decision.status, decision.rule) == (outcome, status, rule)
    assert [reason.value for reason in decision.reasons] == reasons
    assert all(isinstance(reason, Reason) for reason in decision.reasons)
    assert decision.route_id == route


def test_step_up_carries_the_authorization_parameters(snapshot: Snapshot) -> None:
    decision = decide_on(snapshot, "hr", bob_contractor, path="/payroll/x")
    # the policy refuses bob before any step-up is considered
    assert decision.outcome is Outcome.DENY
    decision = decide_on(snapshot, "hr", alice_admin, path="/payroll/x")
    assert dict(decision.extra) == {"acr_values": "urn:corp:mfa", "max_age": "300", "amr": "hwk"}


def test_consent_carries_the_consent_url(snapshot: Snapshot) -> None:
    decision = decide_on(snapshot, "shop", replace(carol_at_corp, claims={}), path="/cart")
    assert decision.reasons == (Reason.CONSENT_REQUIRED,)
    assert dict(decision.extra) == {"consent_url": "https://id.shop.example.com/consent"}


def test_unknown_country_is_refused_by_a_country_deny(snapshot: Snapshot) -> None:
    decision = decide_on(snapshot, "hr", alice_admin, country=None)
    assert (decision.outcome, decision.rule) == (Outcome.DENY, "routes[hr].policy.deny[1]")
    assert decision.reasons == (Reason.COUNTRY_UNKNOWN,)


def test_policy_input_from_facts(snapshot: Snapshot) -> None:
    compiled = compile_route_policy(snapshot.routes.by_id("shop").config)
    facts = RequestFacts(
        "t", "PUT", "https", "h", "/a", "/a", "", "192.0.2.1", "10.0.0.1", True, 0.0, NOW
    )
    inp = policy_input(facts, None, compiled, country="DE", risk=3.0)
    assert (inp.method, inp.path, inp.client_ip, inp.now, inp.country, inp.risk) == (
        "PUT",
        "/a",
        "192.0.2.1",
        NOW,
        "DE",
        3.0,
    )
    assert inp.consent_claim == "consents"


def test_mfa_step_up_names_the_methods_any_of_which_will_do(snapshot: Snapshot) -> None:
    decision = decide_on(snapshot, "intranet", bob_contractor)
    assert decision.outcome is Outcome.STEP_UP and decision.reasons == (Reason.MFA_REQUIRED,)
    assert set(dict(decision.extra)["mfa"].split()) >= {"otp", "hwk", "mfa"}


def test_a_written_policy_refusing_for_mfa_stays_a_deny(snapshot: Snapshot) -> None:
    route = snapshot.routes.by_id("intranet")
    written = route.config.model_copy(
        update={"policy": PolicyConfig.model_validate({"allow": [{"mfa": True}]})}
    )
    compiled = compile_route_policy(written)
    facts = RequestFacts("t", "GET", "https", "h", "/", "/", "", "10.1.2.3", "10.1.2.3", False, 0.0, NOW)
    decision = authorize(route, compiled, policy_input(facts, bob_contractor, compiled))
    assert decision.outcome is Outcome.DENY and decision.status == 403
