"""Identity headers: what is stripped, what is set, and how values are encoded."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from authgate.identity import Identity
from authgate.mutate.encoding import encode_list, encode_value
from authgate.mutate.identity_headers import (
    compile_templates,
    identity_headers,
    strip_identity_headers,
)
from tests.mutate.personas import (
    alice_admin,
    bob_contractor,
    mallory_injector,
    una_unverified,
    zoe_customer,
)

NO_TEMPLATES = compile_templates({})
ROUTE_TEMPLATES = compile_templates({"X-Employee-Id": "{claims.employee_id}"})

# --- stripping --------------------------------------------------------------------

STRIPPED = [
    "X-Authgate-User",
    "x-authgate-user",
    "X-AUTHGATE-USER",
    "X_Authgate_User",  # WSGI/CGI: the same HTTP_X_AUTHGATE_USER variable
    "x-authgate_user",
    "X_AUTHGATE-EMAIL",
    "X-Authgate-Name",
    "X-Authgate-Roles",
    "X-Authgate-Provider",
    "X-Authgate-Acr",
    "X-Authgate-Amr",
    "X-Authgate-Assertion",
    "x_authgate_assertion",
    "X-Authgate-Device",  # the whole X-Authgate- namespace is the gateway's
    "X_Authgate_Country",
    "X-Forwarded-Access-Token",
    "x_forwarded_access_token",
    "X-Employee-Id",  # the route's template name
    "x_employee_id",
    "X-EMPLOYEE_ID",
    "X.Authgate.User",  # PHP maps `.` like `_`
    "X-User",  # generic names apps read (docs/headers.md)
]
KEPT = [
    "Accept",
    "Authorization",
    "Cookie",
    "X-Request-Id",
    "X-Forwarded-For",
    "X-Employee",
    "X-Authgateway-User",  # a prefix of the name is not the namespace
    "X-Authgate",
    "X-Forwarded-Access",
]


@pytest.mark.parametrize("name", STRIPPED)
def test_identity_header_is_stripped(name: str) -> None:
    headers = CIMultiDict([("Accept", "*/*"), (name, "admin"), ("Host", "app.test")])
    strip_identity_headers(headers, ROUTE_TEMPLATES.names)
    assert list(headers.items()) == [("Accept", "*/*"), ("Host", "app.test")]


@pytest.mark.parametrize("name", KEPT)
def test_other_header_is_kept(name: str) -> None:
    headers = CIMultiDict([(name, "v1"), (name, "v2")])
    strip_identity_headers(headers, ROUTE_TEMPLATES.names)
    assert headers.getall(name) == ["v1", "v2"]


def test_every_spelling_and_every_value_goes_at_once() -> None:
    headers = CIMultiDict(
        [
            ("X-Authgate-Groups", "admins"),
            ("Accept", "a"),
            ("x-authgate-groups", "root"),
            ("X_Authgate_Groups", "wheel"),
            ("X-Authgate_Groups", "sudo"),
            ("X-Trace", "t"),
            ("X-AUTHGATE-GROUPS", "ops"),
        ]
    )
    strip_identity_headers(headers, ())
    assert list(headers.items()) == [("Accept", "a"), ("X-Trace", "t")]


def test_template_names_need_the_route_set() -> None:
    headers = CIMultiDict([("X-Employee-Id", "1")])
    strip_identity_headers(headers, [])  # a route without that template keeps it
    assert "X-Employee-Id" in headers
    strip_identity_headers(headers, ["x-employee-id"])  # any iterable, any case
    assert "X-Employee-Id" not in headers


# --- setting ----------------------------------------------------------------------


def test_alice_gets_the_default_set() -> None:
    assert identity_headers(alice_admin, NO_TEMPLATES, assertion=None, access_token=None) == [
        ("X-Authgate-User", "alice"),
        ("X-Authgate-Email", "alice@corp.example"),
        ("X-Authgate-Name", "Alice Admin"),
        ("X-Authgate-Groups", "admins,hr-staff"),
        ("X-Authgate-Roles", "admin"),
        ("X-Authgate-Provider", "corp"),
        ("X-Authgate-Acr", "urn:corp:mfa"),
        ("X-Authgate-Amr", "pwd,otp"),
    ]


def test_empty_values_are_omitted() -> None:
    headers = identity_headers(bob_contractor, NO_TEMPLATES, assertion=None, access_token=None)
    assert headers == [
        ("X-Authgate-User", "bob@contractor.example"),
        ("X-Authgate-Email", "bob@contractor.example"),
        ("X-Authgate-Groups", "contractors"),
        ("X-Authgate-Provider", "corp"),
    ]


@pytest.mark.parametrize("verified", [None, False])
def test_an_unverified_email_reaches_no_header(verified: bool | None) -> None:
    # nOAuth: an app keys accounts on the email header; only a verified one is sent,
    # and the user header falls back to the provider's sub, not to the address.
    una = dataclasses.replace(una_unverified, email_verified=verified)
    templates = compile_templates({"X-Mail": "{email}", "X-Who": "{user}"})
    headers = identity_headers(una, templates, assertion=None, access_token=None)
    assert ("X-Authgate-User", "una-sub") in headers
    assert ("X-Who", "una-sub") in headers
    assert all("ceo@corp.example" not in value for _, value in headers)
    assert not any(name in ("X-Authgate-Email", "X-Mail") for name, _ in headers)


def test_a_verified_email_is_sent() -> None:
    una = dataclasses.replace(una_unverified, email_verified=True)
    templates = compile_templates({"X-Mail": "{email}"})
    headers = identity_headers(una, templates, assertion=None, access_token=None)
    assert ("X-Authgate-Email", "ceo@corp.example") in headers
    assert ("X-Mail", "ceo@corp.example") in headers
    assert ("X-Authgate-User", "ceo@corp.example") in headers


def test_route_templates_follow_the_defaults() -> None:
    headers = identity_headers(alice_admin, ROUTE_TEMPLATES, assertion=None, access_token=None)
    assert headers[-1] == ("X-Employee-Id", "4711")


def test_a_template_replaces_the_default_of_the_same_name() -> None:
    templates = compile_templates({"x-authgate-user": "{subject}"})
    headers = identity_headers(alice_admin, templates, assertion=None, access_token=None)
    users = [(n, v) for n, v in headers if n.lower() == "x-authgate-user"]
    assert users == [("x-authgate-user", "alice-sub")]


def test_a_template_that_renders_nothing_leaves_no_fallback() -> None:
    templates = compile_templates({"X-Authgate-Email": "{claims.upn}"})
    headers = dict(identity_headers(alice_admin, templates, assertion=None, access_token=None))
    assert "X-Authgate-Email" not in headers
    assert headers["X-Authgate-User"] == "alice"


def test_assertion_and_access_token_are_added_when_given() -> None:
    headers = dict(
        identity_headers(bob_contractor, NO_TEMPLATES, assertion="aa.bb.cc", access_token="tok-1")
    )
    assert headers["X-Authgate-Assertion"] == "aa.bb.cc"
    assert headers["X-Forwarded-Access-Token"] == "tok-1"


@pytest.mark.parametrize("token", ["", "tok\r\nX-Evil: 1", "tok en", "tök", "tok\x00"])
def test_an_unsendable_access_token_is_dropped_not_mangled(token: str) -> None:
    headers = identity_headers(bob_contractor, NO_TEMPLATES, assertion=None, access_token=token)
    assert "X-Forwarded-Access-Token" not in dict(headers)


# --- encoding: control characters and unicode -------------------------------------

WIRE_SAFE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


@pytest.mark.parametrize("identity", [alice_admin, bob_contractor, zoe_customer, mallory_injector])
def test_every_value_is_printable_ascii(identity: Identity) -> None:
    templates = compile_templates({"X-Note": "{claims.note}", "X-All": "{user}/{name}/{roles}"})
    headers = identity_headers(identity, templates, assertion=None, access_token=None)
    for name, value in headers:
        assert WIRE_SAFE.fullmatch(value), (name, value)


def test_hostile_values_decode_back_exactly() -> None:
    headers = dict(
        identity_headers(mallory_injector, NO_TEMPLATES, assertion=None, access_token=None)
    )
    assert headers["X-Authgate-Email"] == "m@evil.example%0D%0AX-Authgate-User: admin"
    assert headers["X-Authgate-Name"] == "Mal%00lory%7F%C2%85%20"
    assert headers["X-Authgate-User"] == "%20mallory%09admin"
    assert unquote(headers["X-Authgate-Name"]) == mallory_injector.name
    assert [unquote(g) for g in headers["X-Authgate-Groups"].split(",")] == ["a\nb", "c\rd"]
    assert headers["X-Authgate-Roles"] == "%E2%80%A8"


def test_unicode_name_is_percent_encoded_utf8() -> None:
    headers = dict(identity_headers(zoe_customer, NO_TEMPLATES, assertion=None, access_token=None))
    assert headers["X-Authgate-Name"] == "Zo%C3%AB %E5%B1%B1%E7%94%B0"
    assert unquote(headers["X-Authgate-Name"], encoding="utf-8") == "Zoë 山田"
    assert headers["X-Authgate-Groups"] == "vip,eu%2Cde"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("alice", "alice"),
        ("100%", "100%25"),  # `%` is always encoded, so decoding is unambiguous
        ("a b", "a b"),
        (" a ", "%20a%20"),  # HTTP would strip them (RFC 9110 §5.5)
        ("  ", "%20%20"),
        ("a,b", "a,b"),  # commas stay in scalar values
        ('say "hi"', 'say "hi"'),
        ("a\ud800b", "a?b"),  # a lone surrogate (valid JSON, invalid Unicode)
    ],
)
def test_encode_value_table(value: str, encoded: str) -> None:
    assert encode_value(value) == encoded


@given(st.text())
def test_encode_value_is_wire_safe_and_reversible(value: str) -> None:
    encoded = encode_value(value)
    assert all(0x20 <= ord(c) <= 0x7E for c in encoded)
    assert encoded == encoded.strip(" ")
    assert unquote(encoded, errors="strict") == value


@given(st.lists(st.text()))
def test_encode_list_splits_back(items: list[str]) -> None:
    encoded = encode_list(items)
    assert all(0x20 <= ord(c) <= 0x7E for c in encoded)
    if items:
        assert [unquote(i, errors="strict") for i in encoded.split(",")] == items
