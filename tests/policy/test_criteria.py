"""Every criterion, for every persona that tells something, in allow AND deny rules.

Each row gives one entry, a persona, the request's facts and what the entry alone
says: YES, NO, FACT (a fact it needs is missing) or USER (it needs an identity), with
the reason code it reports in an allow rule. The same row is then checked as the
only allow rule and as the only deny rule of a policy that otherwise allows all:

    entry says   allow rule                       deny rule
    YES          allowed, its ok code             refused by deny[0]
    NO           refused, its failure code        allowed
    FACT         refused (never allows)           refused (fail closed)
    USER         refused, identity_needed=True    refused, identity_needed=True (login)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from authgate.policy import reasons as r
from tests.policy.personas import (
    NOW,
    alice_admin,
    anonymous,
    bob_contractor,
    carol_customer,
    policy,
    request,
    run,
)

YES, NO, FACT, USER = "yes", "no", "fact", "user"
unverified = replace(bob_contractor, email_verified=False)
unstated = replace(bob_contractor, email_verified=None)  # absent, "true", 1: not JSON true
no_email = replace(bob_contractor, email=None)
# The provider sent groups and roles as something else than a JSON array of strings.
mistyped = replace(bob_contractor, groups=(), roles=(), mistyped=("groups", "roles"))
MANAGED = {"managed": True, "compliant": True, "os": "macos"}
# Scopes as providers send them: an `scp` array (Okta), an `scp` string (Entra ID),
# and a `scope` of another JSON type (not guessed at: no scopes).
scp_array = replace(bob_contractor, claims={"scp": ["orders.read", "orders.write"]})
scp_string = replace(bob_contractor, claims={"scp": "orders.read orders.write"})
scope_mistyped = replace(bob_contractor, claims={"scope": ["orders.read", 7]})


def row(entry: dict[str, Any], who: str, says: str, code: str, **facts: Any) -> Any:
    persona = {
        "alice_admin": alice_admin,
        "bob_contractor": bob_contractor,
        "carol_customer": carol_customer,
        "anonymous": anonymous,
        "unverified": unverified,
        "unstated": unstated,
        "no_email": no_email,
        "mistyped": mistyped,
        "carol_unverified": replace(carol_customer, email_verified=None),
        "scp_array": scp_array,
        "scp_string": scp_string,
        "scope_mistyped": scope_mistyped,
    }[who]
    name = f"{next(iter(entry))}-{who}-{says}-{code}"
    return pytest.param(entry, persona, facts, says, code, id=name)


ROWS = [
    # authenticated
    row({"authenticated": True}, "alice_admin", YES, r.USER_AUTHENTICATED),
    row({"authenticated": True}, "bob_contractor", YES, r.USER_AUTHENTICATED),
    row({"authenticated": True}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # user: subject or display id (username, else email), exact
    row({"user": ["alice"]}, "alice_admin", YES, r.USER_OK),
    row({"user": ["alice-sub"]}, "alice_admin", YES, r.USER_OK),
    row({"user": ["ALICE"]}, "alice_admin", NO, r.USER_UNAUTHORIZED),
    row({"user": ["alice"]}, "bob_contractor", NO, r.USER_UNAUTHORIZED),
    row({"user": ["carol@eu.shop.example"]}, "carol_customer", YES, r.USER_OK),
    # an unverified address as the display id is not that user (nOAuth)
    row({"user": ["carol@eu.shop.example"]}, "carol_unverified", NO, r.USER_UNAUTHORIZED),
    row({"user": ["carol-sub"]}, "carol_unverified", YES, r.USER_OK),
    row({"user": ["alice"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # email: exact, A-Z case-insensitive, unverified is unknown
    row({"email": ["alice@corp.com"]}, "alice_admin", YES, r.EMAIL_OK),
    row({"email": ["ALICE@CORP.COM"]}, "alice_admin", YES, r.EMAIL_OK),
    row({"email": ["alice@corp.com"]}, "bob_contractor", NO, r.EMAIL_UNAUTHORIZED),
    row({"email": ["bob@contractor.example"]}, "unverified", FACT, r.EMAIL_UNVERIFIED),
    row({"email": ["bob@contractor.example"]}, "unstated", FACT, r.EMAIL_UNVERIFIED),
    row({"email": ["bob@contractor.example"]}, "no_email", NO, r.EMAIL_UNAUTHORIZED),
    row({"email": ["carol@eu.shop.example"]}, "carol_customer", YES, r.EMAIL_OK),
    row({"email": ["alice@corp.com"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # email_domain (more in test_email_domain.py)
    row({"email_domain": ["corp.com"]}, "alice_admin", YES, r.EMAIL_DOMAIN_OK),
    row({"email_domain": ["corp.com"]}, "bob_contractor", NO, r.EMAIL_DOMAIN_UNAUTHORIZED),
    row({"email_domain": ["*.shop.example"]}, "carol_customer", YES, r.EMAIL_DOMAIN_OK),
    row({"email_domain": ["contractor.example"]}, "unverified", FACT, r.EMAIL_UNVERIFIED),
    row({"email_domain": ["contractor.example"]}, "unstated", FACT, r.EMAIL_UNVERIFIED),
    row({"email_domain": ["corp.com"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # groups / roles: any of, exact
    row({"groups": ["hr-staff", "finance"]}, "alice_admin", YES, r.GROUPS_OK),
    row({"groups": ["HR-STAFF"]}, "alice_admin", NO, r.GROUPS_UNAUTHORIZED),
    row({"groups": ["hr-staff"]}, "bob_contractor", NO, r.GROUPS_UNAUTHORIZED),
    row({"groups": ["hr-staff"]}, "carol_customer", NO, r.GROUPS_UNAUTHORIZED),
    row({"groups": ["hr-staff"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    row({"roles": ["admin"]}, "alice_admin", YES, r.ROLES_OK),
    row({"roles": ["admin"]}, "bob_contractor", NO, r.ROLES_UNAUTHORIZED),
    row({"roles": ["admin"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # a mistyped claim is unknown: never allows, trips a deny (fail closed)
    row({"groups": ["contractors"]}, "mistyped", FACT, r.CLAIM_TYPE_MISMATCH),
    row({"roles": ["reader"]}, "mistyped", FACT, r.CLAIM_TYPE_MISMATCH),
    # claim: equals / in / contains, JSON types kept apart
    row({"claim": {"path": "org.unit", "equals": "HR"}}, "alice_admin", YES, r.CLAIM_OK),
    row(
        {"claim": {"path": "org.unit", "equals": "HR"}}, "bob_contractor", NO, r.CLAIM_UNAUTHORIZED
    ),
    row(
        {"claim": {"path": "org.unit", "equals": "HR"}}, "carol_customer", NO, r.CLAIM_UNAUTHORIZED
    ),
    row({"claim": {"path": "active", "equals": True}}, "alice_admin", YES, r.CLAIM_OK),
    row({"claim": {"path": "active", "equals": True}}, "bob_contractor", NO, r.CLAIM_UNAUTHORIZED),
    row({"claim": {"path": "active", "equals": 1}}, "alice_admin", NO, r.CLAIM_UNAUTHORIZED),
    row({"claim": {"path": "org.level", "equals": 3.0}}, "alice_admin", YES, r.CLAIM_OK),
    row({"claim": {"path": "org.level", "equals": "3"}}, "alice_admin", NO, r.CLAIM_UNAUTHORIZED),
    row({"claim": {"path": "org.level", "in": [1, 2]}}, "bob_contractor", YES, r.CLAIM_OK),
    row({"claim": {"path": "org.level", "in": [1, 2]}}, "alice_admin", NO, r.CLAIM_UNAUTHORIZED),
    row({"claim": {"path": "org.tags", "in": ["people"]}}, "alice_admin", NO, r.CLAIM_UNAUTHORIZED),
    row({"claim": {"path": "scope", "contains": "orders.read"}}, "alice_admin", YES, r.CLAIM_OK),
    # a substring is not a scope: orders.readonly does not contain orders.read
    row(
        {"claim": {"path": "scope", "contains": "orders.read"}},
        "bob_contractor",
        NO,
        r.CLAIM_UNAUTHORIZED,
    ),
    row({"claim": {"path": "org.tags", "contains": "payroll"}}, "alice_admin", YES, r.CLAIM_OK),
    row(
        {"claim": {"path": "org.tags", "contains": "pay"}}, "alice_admin", NO, r.CLAIM_UNAUTHORIZED
    ),
    row({"claim": {"path": "org.unit", "equals": "HR"}}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # mfa from amr (RFC 8176 names)
    row({"mfa": True}, "alice_admin", YES, r.MFA_OK),
    row({"mfa": True}, "carol_customer", YES, r.MFA_OK),
    row({"mfa": True}, "bob_contractor", NO, r.MFA_REQUIRED),
    row({"mfa": False}, "bob_contractor", YES, r.MFA_OK),
    row({"mfa": False}, "alice_admin", NO, r.MFA_REQUIRED),
    row({"mfa": True}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # acr: exact; amr: every listed method
    row({"acr": ["urn:corp:mfa", "urn:corp:hwk"]}, "alice_admin", YES, r.ACR_OK),
    row({"acr": ["urn:corp:mfa"]}, "bob_contractor", NO, r.ACR_INSUFFICIENT),
    row({"acr": ["urn:corp:mfa"]}, "carol_customer", NO, r.ACR_INSUFFICIENT),
    row({"acr": ["urn:corp:mfa"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    row({"amr": ["pwd", "hwk"]}, "alice_admin", YES, r.AMR_OK),
    row({"amr": ["pwd", "otp"]}, "alice_admin", NO, r.AMR_INSUFFICIENT),
    row({"amr": ["pwd", "otp"]}, "carol_customer", YES, r.AMR_OK),
    row({"amr": ["pwd"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # auth_age: at most that long since auth_time; none known -> expired
    row({"auth_age": "15m"}, "alice_admin", YES, r.AUTH_AGE_OK),
    row({"auth_age": "10m"}, "alice_admin", YES, r.AUTH_AGE_OK),  # boundary holds
    row({"auth_age": "9m"}, "alice_admin", NO, r.AUTH_AGE_EXPIRED),
    row({"auth_age": "8h"}, "bob_contractor", NO, r.AUTH_AGE_EXPIRED),
    row({"auth_age": "8h"}, "carol_customer", NO, r.AUTH_AGE_EXPIRED),
    row({"auth_age": "8h"}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # country: unknown satisfies neither in nor not_in
    row({"country": {"in": ["FR", "de"]}}, "alice_admin", YES, r.COUNTRY_OK),
    row({"country": {"in": ["FR"]}}, "alice_admin", YES, r.COUNTRY_OK, country="fr"),
    row({"country": {"in": ["FR"]}}, "alice_admin", NO, r.COUNTRY_UNAUTHORIZED, country="US"),
    row({"country": {"in": ["FR"]}}, "alice_admin", FACT, r.COUNTRY_UNKNOWN, country=None),
    row({"country": {"not_in": ["US"]}}, "alice_admin", YES, r.COUNTRY_OK),
    row({"country": {"not_in": ["US"]}}, "alice_admin", NO, r.COUNTRY_UNAUTHORIZED, country="US"),
    row({"country": {"not_in": ["US"]}}, "alice_admin", FACT, r.COUNTRY_UNKNOWN, country=None),
    row({"country": {"in": ["FR"]}}, "anonymous", YES, r.COUNTRY_OK),
    # ip: CIDR list, IPv4-mapped IPv6 compared as IPv4
    row({"ip": ["10.0.0.0/8"]}, "anonymous", YES, r.IP_OK),
    row({"ip": ["10.0.0.0/8"]}, "alice_admin", NO, r.IP_UNAUTHORIZED, ip="192.168.1.1"),
    row({"ip": ["10.0.0.0/8"]}, "alice_admin", YES, r.IP_OK, ip="::ffff:10.1.2.3"),
    row({"ip": ["10.0.0.0/8"]}, "alice_admin", NO, r.IP_UNAUTHORIZED, ip="::a01:203"),
    row({"ip": ["2001:db8::/32"]}, "alice_admin", YES, r.IP_OK, ip="2001:db8::1"),
    row({"ip": ["2001:db8::/32"]}, "alice_admin", NO, r.IP_UNAUTHORIZED),
    row({"ip": ["192.0.2.7"]}, "alice_admin", YES, r.IP_OK, ip="192.0.2.7"),
    row({"ip": ["10.0.0.0/8"]}, "alice_admin", FACT, r.IP_UNKNOWN, ip="unknown"),
    # device: every key, exact value and type; none or a missing key is unknown
    row(
        {"device": {"managed": True, "compliant": True}},
        "alice_admin",
        YES,
        r.DEVICE_OK,
        device=MANAGED,
    ),
    row(
        {"device": {"managed": True, "compliant": True}},
        "alice_admin",
        NO,
        r.DEVICE_UNAUTHORIZED,
        device={"managed": True, "compliant": False},
    ),
    row(
        {"device": {"managed": True}},
        "alice_admin",
        NO,
        r.DEVICE_UNAUTHORIZED,
        device={"managed": 1},
    ),
    row({"device": {"os": "macos"}}, "anonymous", YES, r.DEVICE_OK, device=MANAGED),
    row({"device": {"managed": True}}, "alice_admin", FACT, r.DEVICE_UNKNOWN),
    row({"device": {"encrypted": True}}, "alice_admin", FACT, r.DEVICE_UNKNOWN, device=MANAGED),
    # time (more in test_time_window.py): Monday 11:00 in Paris
    row(
        {"time": {"days": ["mon"], "hours": "09:00-18:00", "tz": "Europe/Paris"}},
        "alice_admin",
        YES,
        r.TIME_OK,
    ),
    row({"time": {"days": ["sat", "sun"]}}, "alice_admin", NO, r.TIME_UNAUTHORIZED),
    row(
        {"time": {"hours": "12:00-18:00", "tz": "Europe/Paris"}},
        "alice_admin",
        NO,
        r.TIME_UNAUTHORIZED,
    ),
    # method: case-sensitive, GET brings HEAD
    row({"method": ["GET"]}, "alice_admin", YES, r.METHOD_OK),
    row({"method": ["GET"]}, "alice_admin", YES, r.METHOD_OK, method="HEAD"),
    row({"method": ["GET"]}, "alice_admin", NO, r.METHOD_UNAUTHORIZED, method="POST"),
    row({"method": ["get"]}, "alice_admin", NO, r.METHOD_UNAUTHORIZED, method="get"),  # upper-cased
    row({"method": ["POST"]}, "anonymous", YES, r.METHOD_OK, method="POST"),
    # path: routing's globs on the normalized path
    row({"path": ["/admin/**"]}, "alice_admin", YES, r.PATH_OK, path="/admin/users/1"),
    row({"path": ["/admin/**"]}, "alice_admin", NO, r.PATH_UNAUTHORIZED, path="/admin"),
    row({"path": ["/admin/**"]}, "alice_admin", NO, r.PATH_UNAUTHORIZED, path="/administrator/x"),
    row({"path": ["/users/*/profile"]}, "anonymous", YES, r.PATH_OK, path="/users/42/profile"),
    row(
        {"path": ["/users/*/profile"]},
        "anonymous",
        NO,
        r.PATH_UNAUTHORIZED,
        path="/users/4/2/profile",
    ),
    # risk: strictly below; no score is unknown
    row({"risk": {"below": 40}}, "alice_admin", YES, r.RISK_OK, risk=10),
    row({"risk": {"below": 40}}, "alice_admin", NO, r.RISK_TOO_HIGH, risk=40),
    row({"risk": {"below": 40}}, "alice_admin", FACT, r.RISK_UNKNOWN),
    # consent: list, mapping (false values are no consent), missing
    row({"consent": ["terms-2026"]}, "alice_admin", YES, r.CONSENT_OK),
    row({"consent": ["terms-2026"]}, "carol_customer", YES, r.CONSENT_OK),
    row({"consent": ["terms-2026", "marketing"]}, "carol_customer", NO, r.CONSENT_REQUIRED),
    row({"consent": ["terms-2026"]}, "bob_contractor", NO, r.CONSENT_REQUIRED),
    row({"consent": ["terms-2026"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
    # entitlement: an active grant on this route; unreadable grants are an unknown fact
    row({"entitlement": ["db-admin"]}, "bob_contractor", YES, r.ENTITLEMENT_OK, grants={"db-admin": "g-1"}),
    row({"entitlement": ["db-admin"]}, "bob_contractor", NO, r.ENTITLEMENT_REQUIRED, grants={"db-ro": "g-2"}),
    row({"entitlement": ["db-admin"]}, "bob_contractor", FACT, r.ENTITLEMENT_UNKNOWN),
    row({"entitlement": ["db-admin"]}, "anonymous", USER, r.USER_UNAUTHENTICATED, grants={}),
    # scopes: space-separated `scope`, else `scp` (array or string); every one, exact words
    row({"scopes": ["orders.read"]}, "alice_admin", YES, r.SCOPES_OK),
    row({"scopes": ["orders.read", "orders.write"]}, "alice_admin", YES, r.SCOPES_OK),
    row({"scopes": ["orders.read", "orders.admin"]}, "alice_admin", NO, r.SCOPES_INSUFFICIENT),
    row({"scopes": ["orders.read"]}, "bob_contractor", NO, r.SCOPES_INSUFFICIENT),  # .readonly
    row({"scopes": ["orders"]}, "alice_admin", NO, r.SCOPES_INSUFFICIENT),  # never a substring
    row({"scopes": ["orders.write"]}, "scp_array", YES, r.SCOPES_OK),
    row({"scopes": ["orders.read", "orders.write"]}, "scp_string", YES, r.SCOPES_OK),
    row({"scopes": ["orders.read"]}, "scope_mistyped", NO, r.SCOPES_INSUFFICIENT),
    row({"scopes": ["orders.read"]}, "carol_customer", NO, r.SCOPES_INSUFFICIENT),  # none
    row({"scopes": ["orders.read"]}, "anonymous", USER, r.USER_UNAUTHENTICATED),
]


@pytest.mark.parametrize(("entry", "identity", "facts", "says", "code"), ROWS)
def test_criterion_as_allow_rule(
    entry: dict[str, Any], identity: Any, facts: dict[str, Any], says: str, code: str
) -> None:
    result = run(policy(allow=[entry]), request(identity, **facts))
    assert result.allowed is (says == YES)
    assert result.identity_needed is (says == USER)
    if says == YES:
        assert result.rule == "routes[r].policy.allow[0]"
        assert result.reasons == (code,)
    else:
        assert result.rule is None
        assert result.reasons == (r.POLICY_NO_MATCH, code)


@pytest.mark.parametrize(("entry", "identity", "facts", "says", "code"), ROWS)
def test_criterion_as_deny_rule(
    entry: dict[str, Any], identity: Any, facts: dict[str, Any], says: str, code: str
) -> None:
    config = policy(allow=[{"path": ["/**"]}], deny=[entry])
    result = run(config, request(identity, **facts))
    assert result.allowed is (says == NO)
    assert result.identity_needed is (says == USER)
    if says != NO:
        assert result.rule == "routes[r].policy.deny[0]"


def test_a_matching_deny_reports_the_failure_code() -> None:
    config = policy(allow=[{"path": ["/**"]}], deny=[{"country": {"not_in": ["US"]}}])
    result = run(config, request(alice_admin, country="FR"))
    assert result.reasons == (r.COUNTRY_UNAUTHORIZED,)


def test_mfa_methods_are_configurable() -> None:
    config = policy(allow=[{"mfa": True}], mfa_methods=["hwk"])
    assert run(config, request(alice_admin)).allowed
    assert not run(config, request(carol_customer)).allowed  # otp no longer counts


def test_consent_claim_path_is_the_routes() -> None:
    legal = replace(bob_contractor, claims={"legal": {"accepted": ["terms-2026"]}})
    config = policy(allow=[{"consent": ["terms-2026"]}])
    assert run(config, request(legal, consent_claim="legal.accepted")).allowed
    assert not run(config, request(legal)).allowed


def test_consent_single_string_is_one_consent() -> None:
    one = replace(bob_contractor, claims={"consents": "terms-2026 marketing"})
    assert not run(policy(allow=[{"consent": ["terms-2026"]}]), request(one)).allowed
    assert run(policy(allow=[{"consent": ["terms-2026 marketing"]}]), request(one)).allowed


def test_auth_time_in_the_future_is_fresh() -> None:
    skewed = replace(alice_admin, auth_time=NOW + 30)
    assert run(policy(allow=[{"auth_age": "1m"}]), request(skewed)).allowed


def test_every_criterion_has_rows() -> None:
    from authgate.config.schema_policy import PolicyEntry

    criteria = {field.alias or name for name, field in PolicyEntry.model_fields.items()} - {
        "and",
        "or",
        "not",
    }
    covered = {next(iter(param.values[0])) for param in ROWS}
    assert criteria - covered == set()
