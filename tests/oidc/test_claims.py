"""Claims -> Identity: dotted paths, provider shapes (Keycloak, Auth0, Cognito), personas."""

from __future__ import annotations

from typing import Any

import pytest

from authgate.config.schema_auth import ClaimsMapping
from authgate.oidc.claims import DROPPED_CLAIMS, claim_at, identity_from_claims
from authgate.oidc.errors import TokenInvalid

KEYCLOAK = {
    "iss": "https://kc.example.com/realms/corp",
    "sub": "f1b2",
    "aud": "gateway",
    "azp": "gateway",
    "exp": 2,
    "iat": 1,
    "nonce": "n",
    "sid": "s",
    "at_hash": "h",
    "auth_time": 1_700_000_000,
    "acr": "1",
    "email": "alice@example.com",
    "email_verified": True,
    "preferred_username": "alice",
    "name": "Alice Archer",
    "realm_access": {"roles": ["hr-admin", "offline_access"]},
    "resource_access": {"gateway": {"roles": ["reader"]}},
    "groups": ["/hr", "/staff"],
    "employee_id": "E-42",
}


@pytest.mark.parametrize(
    ("claims", "path", "expected"),
    [
        pytest.param(KEYCLOAK, "realm_access.roles", ["hr-admin", "offline_access"], id="nested"),
        pytest.param(KEYCLOAK, "resource_access.gateway.roles", ["reader"], id="deeper"),
        pytest.param(KEYCLOAK, "email", "alice@example.com", id="top-level"),
        pytest.param(KEYCLOAK, "realm_access.missing", None, id="missing-leaf"),
        pytest.param(KEYCLOAK, "nowhere.roles", None, id="missing-branch"),
        pytest.param(KEYCLOAK, "email.domain", None, id="through-a-string"),
        pytest.param({"a.b": 1, "a": {"b": 2}}, "a.b", 1, id="literal-dotted-key-wins"),
        pytest.param(
            {"https://example.com/roles": ["r"]},
            "https://example.com/roles",
            ["r"],
            id="auth0-namespaced",
        ),
        pytest.param({"a": {"b": None}}, "a.b", None, id="null-value"),
        pytest.param({"a": [{"b": 1}]}, "a.0.b", None, id="no-list-indexing"),
    ],
)
def test_claim_at(claims: dict[str, Any], path: str, expected: Any) -> None:
    assert claim_at(claims, path) == expected


def test_keycloak_roles_by_dotted_path() -> None:
    mapping = ClaimsMapping(roles="realm_access.roles")
    identity = identity_from_claims(
        KEYCLOAK, provider_id="corp", mapping=mapping, credential="session"
    )
    assert identity.subject == "f1b2" and identity.provider == "corp"
    assert identity.roles == ("hr-admin", "offline_access")
    assert identity.groups == ("/hr", "/staff")
    assert identity.email == "alice@example.com" and identity.email_verified is True
    assert identity.username == "alice" and identity.name == "Alice Archer"
    assert identity.acr == "1" and identity.auth_time == 1_700_000_000.0
    assert identity.user == "alice"


def test_identity_claims_keep_user_facts_and_drop_plumbing() -> None:
    identity = identity_from_claims(
        KEYCLOAK,
        provider_id="corp",
        mapping=ClaimsMapping(),
        credential="session",
        session_id="gw-1",
    )
    assert identity.session_id == "gw-1" and identity.credential == "session"
    assert not DROPPED_CLAIMS & set(identity.claims)
    assert identity.claims["iss"] == KEYCLOAK["iss"]
    assert identity.claims["employee_id"] == "E-42"
    assert identity.claims["realm_access"] == {"roles": ["hr-admin", "offline_access"]}


BASE = {"sub": "u1"}


# groups/roles: trusted only as a JSON array of strings; any other present shape
# is not membership (empty, and named in `mistyped`). email_verified: the JSON
# boolean only. (Strings used to count: a group "admins", email_verified "true".)
@pytest.mark.parametrize(
    ("claims", "field", "expected"),
    [
        pytest.param(BASE, "groups", (), id="groups-missing"),
        pytest.param(BASE | {"groups": None}, "groups", (), id="groups-null"),
        pytest.param(BASE | {"groups": []}, "groups", (), id="groups-empty-list"),
        pytest.param(BASE | {"groups": ["a", "b"]}, "groups", ("a", "b"), id="groups-list"),
        pytest.param(BASE | {"groups": ["a", "", "b"]}, "groups", ("a", "b"), id="groups-empty-item"),
        pytest.param(BASE | {"groups": "admins"}, "groups", (), id="groups-single-string"),
        pytest.param(BASE | {"groups": "Domain Users"}, "groups", (), id="groups-spaced-string"),
        pytest.param(BASE | {"groups": "a,b"}, "groups", (), id="groups-comma-string"),
        pytest.param(BASE | {"groups": ["a", 5]}, "groups", (), id="groups-list-with-number"),
        pytest.param(BASE | {"groups": ["a", None]}, "groups", (), id="groups-list-with-null"),
        pytest.param(BASE | {"groups": ["a", ["b"]]}, "groups", (), id="groups-nested-list"),
        pytest.param(BASE | {"groups": {"a": 1}}, "groups", (), id="groups-object"),
        pytest.param(BASE | {"groups": 7}, "groups", (), id="groups-number"),
        pytest.param(BASE | {"groups": True}, "groups", (), id="groups-bool"),
        pytest.param(BASE | {"groups": ""}, "groups", (), id="groups-empty-string"),
        pytest.param(BASE | {"roles": ["r"]}, "roles", ("r",), id="roles-default-claim"),
        pytest.param(BASE | {"roles": "r"}, "roles", (), id="roles-string"),
        pytest.param(BASE | {"email_verified": True}, "email_verified", True, id="verified-true"),
        pytest.param(BASE | {"email_verified": False}, "email_verified", False, id="verified-false"),
        pytest.param(BASE | {"email_verified": "true"}, "email_verified", None, id="cognito-string-true"),
        pytest.param(BASE | {"email_verified": "False"}, "email_verified", None, id="string-false"),
        pytest.param(BASE | {"email_verified": 1}, "email_verified", None, id="verified-number"),
        pytest.param(BASE | {"email_verified": None}, "email_verified", None, id="verified-null"),
        pytest.param(BASE, "email_verified", None, id="verified-missing"),
        pytest.param(BASE | {"email": ["a@x"]}, "email", None, id="email-list"),
        pytest.param(BASE | {"email": ""}, "email", None, id="email-empty"),
        pytest.param(BASE | {"amr": ["pwd", "otp"]}, "amr", ("pwd", "otp"), id="amr-list"),
        pytest.param(BASE | {"amr": "pwd"}, "amr", ("pwd",), id="amr-string"),
        pytest.param(BASE | {"acr": 2}, "acr", None, id="acr-number"),
        pytest.param(BASE | {"auth_time": True}, "auth_time", None, id="auth-time-bool"),
        pytest.param(BASE | {"auth_time": "1700000000"}, "auth_time", None, id="auth-time-string"),
        pytest.param(BASE | {"auth_time": float("inf")}, "auth_time", None, id="auth-time-inf"),
        pytest.param(BASE | {"auth_time": 10**400}, "auth_time", None, id="auth-time-huge"),
    ],
)
def test_claim_shapes(claims: dict[str, Any], field: str, expected: Any) -> None:
    identity = identity_from_claims(
        claims, provider_id="p", mapping=ClaimsMapping(), credential="bearer"
    )
    assert getattr(identity, field) == expected


def test_custom_mapping_paths() -> None:
    claims = {
        "sub": "u1",
        "mail": "x@y",
        "profile": {"display": "X Y"},
        "upn": "xy",
        "wids": ["admin-role-id"],
    }
    mapping = ClaimsMapping(email="mail", name="profile.display", username="upn", groups="wids")
    identity = identity_from_claims(
        claims, provider_id="azure", mapping=mapping, credential="session"
    )
    assert (identity.email, identity.name, identity.username) == ("x@y", "X Y", "xy")
    assert identity.groups == ("admin-role-id",)


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": 5}])
def test_a_subject_is_required(claims: dict[str, Any]) -> None:
    with pytest.raises(TokenInvalid, match="token-claim-missing"):
        identity_from_claims(claims, provider_id="p", mapping=ClaimsMapping(), credential="session")


MISTYPED = [
    pytest.param("admins", id="string"),
    pytest.param("admins users", id="space-separated"),
    pytest.param(7, id="number"),
    pytest.param({"admins": True}, id="object"),
    pytest.param(True, id="bool"),
    pytest.param(["admins", 1], id="array-with-number"),
    pytest.param(["admins", {"x": 1}], id="array-with-object"),
]


@pytest.mark.parametrize("value", MISTYPED)
@pytest.mark.parametrize("field", ["groups", "roles"])
def test_mistyped_membership_is_named_and_empty(field: str, value: Any) -> None:
    identity = identity_from_claims(
        BASE | {field: value}, provider_id="p", mapping=ClaimsMapping(), credential="session"
    )
    assert getattr(identity, field) == () and identity.mistyped == (field,)


def test_mistyped_by_mapped_path() -> None:
    claims = BASE | {"realm_access": {"roles": "admin"}, "groups": ["g"]}
    identity = identity_from_claims(
        claims, provider_id="p", mapping=ClaimsMapping(roles="realm_access.roles"), credential="bearer"
    )
    assert (identity.groups, identity.roles, identity.mistyped) == (("g",), (), ("roles",))


@pytest.mark.parametrize("value", [None, [], ["a"]], ids=["absent", "empty", "list"])
def test_well_typed_membership_is_not_mistyped(value: Any) -> None:
    claims = BASE if value is None else BASE | {"groups": value, "roles": value}
    identity = identity_from_claims(
        claims, provider_id="p", mapping=ClaimsMapping(), credential="session"
    )
    assert identity.mistyped == ()


@pytest.mark.parametrize(
    "verified", [True, False, "true", 1, None], ids=["true", "false", "string", "number", "absent"]
)
def test_assume_verified_provider(verified: Any) -> None:
    claims = BASE | {"email": "a@x.example"} | ({} if verified is None else {"email_verified": verified})
    identity = identity_from_claims(
        claims, provider_id="p", mapping=ClaimsMapping(), credential="session", email_verified="assume"
    )
    assert identity.email_verified is True
