"""and / or / not, deny wins, first match, rule paths and reason orientation.

Three-valued logic (Kleene): an unknown fact never allows — not even through `not` —
and trips deny rules; a rule that needs a missing identity asks for a login.
"""

from __future__ import annotations

from typing import Any

import pytest

from authgate.identity import Identity
from authgate.policy import reasons as r
from authgate.policy.evaluate import PolicyResult
from tests.policy.personas import (
    PERSONAS,
    alice_admin,
    anonymous,
    bob_contractor,
    carol_customer,
    policy,
    request,
    run,
)


def outcome(result: PolicyResult, identity: Identity | None) -> str:
    if result.allowed:
        return "allow"
    return "login" if identity is None and result.identity_needed else "deny"


HR = policy(
    allow=[
        {"and": [{"groups": ["hr-staff"]}, {"mfa": True}]},
        {
            "and": [
                {"email_domain": ["shop.example", "*.shop.example"]},
                {"consent": ["terms-2026"]},
                {"path": ["/shop/**"]},
            ]
        },
    ],
    deny=[
        {"and": [{"groups": ["contractors"]}, {"not": {"method": ["GET"]}}]},
        {"path": ["/internal/**"]},
    ],
)


@pytest.mark.parametrize(
    ("persona", "method", "path", "expected", "rule"),
    [
        ("alice_admin", "GET", "/", "allow", "routes[r].policy.allow[0]"),
        ("alice_admin", "POST", "/", "allow", "routes[r].policy.allow[0]"),
        ("alice_admin", "GET", "/internal/x", "deny", "routes[r].policy.deny[1]"),
        ("bob_contractor", "GET", "/", "deny", None),
        ("bob_contractor", "POST", "/", "deny", "routes[r].policy.deny[0]"),
        ("bob_contractor", "HEAD", "/", "deny", None),  # HEAD is a GET: not denied, not allowed
        ("carol_customer", "GET", "/shop/cart", "allow", "routes[r].policy.allow[1]"),
        ("carol_customer", "GET", "/", "deny", None),
        ("carol_customer", "GET", "/internal/x", "deny", "routes[r].policy.deny[1]"),
        ("anonymous", "GET", "/", "login", None),
        ("anonymous", "POST", "/", "login", "routes[r].policy.deny[0]"),
        ("anonymous", "GET", "/internal/x", "deny", "routes[r].policy.deny[1]"),
    ],
)
def test_personas_on_a_workforce_policy(
    persona: str, method: str, path: str, expected: str, rule: str | None
) -> None:
    identity = PERSONAS[persona]
    result = run(HR, request(identity, method=method, path=path))
    assert outcome(result, identity) == expected
    assert result.rule == rule


def test_and_holds_when_all_hold_with_every_reason() -> None:
    result = run(HR, request(alice_admin))
    assert result.reasons == (r.GROUPS_OK, r.MFA_OK)


def test_and_stops_at_the_first_failure() -> None:
    config = policy(allow=[{"and": [{"groups": ["nope"]}, {"risk": {"below": 1}}]}])
    result = run(config, request(alice_admin))
    assert result.reasons == (r.POLICY_NO_MATCH, r.GROUPS_UNAUTHORIZED)  # risk never looked at


def test_or_names_the_alternative_that_let_the_request_in() -> None:
    config = policy(allow=[{"or": [{"groups": ["nope"]}, {"roles": ["admin"]}, {"mfa": True}]}])
    result = run(config, request(alice_admin))
    assert result.rule == "routes[r].policy.allow[0].or[1]"
    assert result.reasons == (r.ROLES_OK,)


def test_or_failing_lists_every_alternative() -> None:
    config = policy(allow=[{"or": [{"groups": ["nope"]}, {"roles": ["nope"]}]}])
    result = run(config, request(bob_contractor))
    assert result.reasons == (r.POLICY_NO_MATCH, r.GROUPS_UNAUTHORIZED, r.ROLES_UNAUTHORIZED)


@pytest.mark.parametrize(
    ("identity", "allowed", "code"),
    [
        (alice_admin, True, r.GROUPS_OK),
        (bob_contractor, False, r.GROUPS_UNAUTHORIZED),
        (carol_customer, True, r.GROUPS_OK),
    ],
)
def test_not_orients_reasons(identity: Identity, allowed: bool, code: str) -> None:
    result = run(policy(allow=[{"not": {"groups": ["contractors"]}}]), request(identity))
    assert result.allowed is allowed
    assert code in result.reasons
    if allowed:
        assert result.rule == "routes[r].policy.allow[0]"  # the `not` entry itself


def test_not_in_a_deny_rule() -> None:
    config = policy(allow=[{"authenticated": True}], deny=[{"not": {"groups": ["admins"]}}])
    assert run(config, request(alice_admin)).allowed
    result = run(config, request(bob_contractor))
    assert (result.allowed, result.reasons) == (False, (r.GROUPS_UNAUTHORIZED,))


def test_double_not_is_the_criterion() -> None:
    config = policy(allow=[{"not": {"not": {"groups": ["admins"]}}}])
    assert run(config, request(alice_admin)).allowed
    assert not run(config, request(bob_contractor)).allowed


def test_nested_rule_paths() -> None:
    config = policy(
        allow=[
            {"groups": ["nope"]},
            {
                "and": [
                    {"or": [{"roles": ["x"]}, {"not": {"groups": ["contractors"]}}]},
                    {"mfa": True},
                ]
            },
        ]
    )
    assert run(config, request(alice_admin)).rule == "routes[r].policy.allow[1]"
    inner = policy(allow=[{"or": [{"roles": ["x"]}, {"or": [{"mfa": False}, {"mfa": True}]}]}])
    assert run(inner, request(alice_admin)).rule == "routes[r].policy.allow[0].or[1].or[1]"


# --- three-valued logic ----------------------------------------------------------


def test_not_of_an_unknown_fact_never_allows() -> None:
    config = policy(allow=[{"not": {"country": {"in": ["KP"]}}}])
    assert run(config, request(alice_admin, country="FR")).allowed
    result = run(config, request(alice_admin, country=None))
    assert not result.allowed and not result.identity_needed
    assert r.COUNTRY_UNKNOWN in result.reasons


def test_not_of_an_unknown_fact_still_denies() -> None:
    config = policy(allow=[{"authenticated": True}], deny=[{"not": {"country": {"in": ["FR"]}}}])
    assert run(config, request(alice_admin, country="FR")).allowed
    result = run(config, request(alice_admin, country=None))
    assert (result.allowed, result.reasons) == (False, (r.COUNTRY_UNKNOWN,))


def test_or_with_a_holding_alternative_ignores_unknowns() -> None:
    config = policy(allow=[{"or": [{"groups": ["x"]}, {"ip": ["10.0.0.0/8"]}]}])
    assert run(config, request(anonymous)).allowed


def test_and_with_a_failing_part_needs_no_login() -> None:
    config = policy(allow=[{"and": [{"groups": ["hr-staff"]}, {"ip": ["192.168.0.0/16"]}]}])
    result = run(config, request(anonymous))  # from 10.1.2.3: logging in cannot help
    assert (result.allowed, result.identity_needed) == (False, False)


def test_missing_identity_outranks_missing_fact() -> None:
    # after a login the group may settle it: ask for the login first
    config = policy(
        allow=[{"authenticated": True}],
        deny=[{"and": [{"groups": ["contractors"]}, {"country": {"in": ["KP"]}}]}],
    )
    result = run(config, request(anonymous, country=None))
    assert (result.allowed, result.identity_needed) == (False, True)
    assert result.reasons == (r.USER_UNAUTHENTICATED, r.COUNTRY_UNKNOWN)


# --- deny wins, first match -------------------------------------------------------


def test_deny_wins_over_any_allow() -> None:
    config = policy(
        allow=[{"authenticated": True}, {"groups": ["admins"]}], deny=[{"path": ["/admin/**"]}]
    )
    assert run(config, request(alice_admin, path="/x")).allowed
    result = run(config, request(alice_admin, path="/admin/x"))
    assert (result.allowed, result.rule, result.reasons) == (
        False,
        "routes[r].policy.deny[0]",
        (r.PATH_UNAUTHORIZED,),
    )


def test_first_matching_deny_and_allow_decide() -> None:
    config = policy(
        allow=[{"groups": ["nope"]}, {"roles": ["admin"]}, {"authenticated": True}],
        deny=[{"groups": ["nope"]}, {"method": ["DELETE"]}, {"path": ["/**"]}],
    )
    assert run(config, request(alice_admin, method="DELETE")).rule == "routes[r].policy.deny[1]"
    allow = policy(allow=config.model_dump(by_alias=True, exclude_unset=True)["allow"])
    assert run(allow, request(alice_admin)).rule == "routes[r].policy.allow[1]"


def test_an_empty_policy_denies() -> None:
    result = run(policy(), request(alice_admin))
    assert (result.allowed, result.rule, result.reasons) == (False, None, (r.POLICY_NO_MATCH,))


def test_a_deny_pending_on_login_blocks_every_allow() -> None:
    config = policy(allow=[{"ip": ["10.0.0.0/8"]}], deny=[{"groups": ["contractors"]}])
    result = run(config, request(anonymous))
    assert (result.allowed, result.identity_needed, result.rule) == (
        False,
        True,
        "routes[r].policy.deny[0]",
    )
    assert run(config, request(alice_admin)).allowed


def test_a_deny_on_a_missing_fact_beats_a_pending_login() -> None:
    config = policy(
        allow=[{"authenticated": True}],
        deny=[{"groups": ["contractors"]}, {"country": {"in": ["KP"]}}],
    )
    result = run(config, request(anonymous, country=None))
    assert (result.allowed, result.identity_needed, result.rule) == (
        False,
        False,
        "routes[r].policy.deny[1]",
    )


def test_no_match_reasons_are_deduplicated() -> None:
    config = policy(allow=[{"groups": ["a"]}, {"groups": ["b"]}, {"mfa": True}])
    result = run(config, request(bob_contractor))
    assert result.reasons == (r.POLICY_NO_MATCH, r.GROUPS_UNAUTHORIZED, r.MFA_REQUIRED)


@pytest.mark.parametrize("combinator", ["and", "or"])
def test_combinators_in_deny_rules(combinator: str) -> None:
    entry: dict[str, Any] = {combinator: [{"groups": ["contractors"]}, {"method": ["POST"]}]}
    config = policy(allow=[{"authenticated": True}], deny=[entry])
    post = run(config, request(bob_contractor, method="POST"))
    get = run(config, request(bob_contractor, method="GET"))
    assert not post.allowed
    assert get.allowed is (combinator == "and")
