"""Spoofable client headers: the name folding, the built-in classes, what `strip` keeps."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from authgate.mutate.encoding import normalize_name
from authgate.mutate.spoofed import (
    FORWARDING,
    IDENTITY,
    OVERRIDES,
    TRUSTED_FORWARDING,
    HeaderSet,
    route_strip_set,
    strip,
)

FOLDING = [
    ("X-Forwarded-User", "x-forwarded-user"),
    ("X_Forwarded_User", "x-forwarded-user"),
    ("X.Forwarded.User", "x-forwarded-user"),
    ("x_forwarded.USER", "x-forwarded-user"),
    ("X-FORWARDED-USER", "x-forwarded-user"),
    ("Remote_User", "remote-user"),
    ("X__User", "x--user"),  # each separator maps one to one: no collapsing
    ("Authorization", "authorization"),
    ("X-Forwarded-For ", "x-forwarded-for "),  # no trimming: the parser owns the name
]


@pytest.mark.parametrize(("name", "folded"), FOLDING)
def test_name_folding(name: str, folded: str) -> None:
    assert normalize_name(name) == folded


def spellings(name: str) -> list[str]:
    """The spellings a server folds into one variable: case, `-`, `_` and `.`."""
    return [
        name,
        name.lower(),
        name.upper(),
        name.replace("-", "_"),
        name.replace("-", "."),
        name.upper().replace("-", "_"),
        name.replace("-", "_", 1),
    ]


IDENTITY_NAMES = [
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token",
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Access-Token",
    "Remote-User",
    "Remote-Groups",
    "Remote-Name",
    "Remote-Email",
    "X-Remote-User",
    "X-WEBAUTH-USER",
    "X-Webauth-Email",
    "X-Pomerium-Jwt-Assertion",
    "X-Pomerium-Claim-Email",
    "X-Goog-Authenticated-User-Email",
    "X-Goog-Authenticated-User-Id",
    "X-Goog-Iap-Jwt-Assertion",
    "Cf-Access-Jwt-Assertion",
    "Cf-Access-Authenticated-User-Email",
    "X-Amzn-Oidc-Data",
    "X-Amzn-Oidc-Identity",
    "X-MS-CLIENT-PRINCIPAL",
    "X-MS-CLIENT-PRINCIPAL-NAME",
    "X-MS-CLIENT-PRINCIPAL-ID",
    "X-User",
    "X-User-Id",
    "X-Email",
    "X-Authgate-User",
    "X-Authgate-Anything-New",
]
FORWARDING_NAMES = [
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Real-IP",
    "Forwarded",
    "X-Request-Id",
]
OVERRIDE_NAMES = [
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-Original-URI",
    "X-Forwarded-Uri",
    "X-Forwarded-Path",
    "X-HTTP-Method-Override",
    "X-Method-Override",
    "X-HTTP-Method",
]
NOT_SPOOFABLE = [
    "Accept",
    "Authorization",
    "Cookie",
    "X-Users",
    "X-Userid",  # not X-User-Id: no separator, no fold
    "X-Emails",
    "Remote-Addr",
    "X-Forwarded-Server",
    "X-Forwarded-Fort",
    "X-Authgateway-User",
    "X-Original-Method",
    "User-Agent",
]


@pytest.mark.parametrize("name", IDENTITY_NAMES)
def test_identity_names_match_in_every_spelling(name: str) -> None:
    for spelling in spellings(name):
        assert IDENTITY.matches(spelling), spelling


@pytest.mark.parametrize("name", FORWARDING_NAMES)
def test_forwarding_names_match_in_every_spelling(name: str) -> None:
    for spelling in spellings(name):
        assert FORWARDING.matches(spelling), spelling


@pytest.mark.parametrize("name", OVERRIDE_NAMES)
def test_override_names_match_in_every_spelling(name: str) -> None:
    for spelling in spellings(name):
        assert OVERRIDES.matches(spelling), spelling


@pytest.mark.parametrize("name", NOT_SPOOFABLE)
def test_other_names_are_left_alone(name: str) -> None:
    strip_set = route_strip_set((), frozenset())
    for spelling in spellings(name):
        assert not strip_set.matches(spelling), spelling


def test_operator_entries_add_names_and_prefixes() -> None:
    strip_set = route_strip_set(("X-Corp-User", "x_corp_auth_*"), frozenset({"X-Employee-Id"}))
    for name in ("X-Corp-User", "X.Corp.User", "X-Corp-Auth-Level", "X_CORP_AUTH_GROUPS", "x-employee_id"):
        assert strip_set.matches(name), name
    assert not strip_set.matches("X-Corp-Users")
    assert not strip_set.matches("X-Corp-Aut")


def test_header_set_of_splits_names_and_prefixes() -> None:
    assert HeaderSet.of(["X_A", "X.B-*"]) == HeaderSet(frozenset({"x-a"}), ("x-b-",))


def test_strip_removes_every_copy_and_reports_names_as_sent_lowercased_sorted() -> None:
    headers = CIMultiDict(
        [
            ("Accept", "*/*"),
            ("X_Forwarded_User", "root"),
            ("X-Forwarded-User", "admin"),
            ("x-forwarded-user", "again"),
            ("Remote.User", "r"),
            ("X-Trace", "t"),
        ]
    )
    removed = strip(headers, IDENTITY)
    assert removed == ("remote.user", "x-forwarded-user", "x_forwarded_user")
    assert list(headers.items()) == [("Accept", "*/*"), ("X-Trace", "t")]


def test_keep_saves_the_canonical_spelling_only() -> None:
    headers = CIMultiDict(
        [
            ("X-Forwarded-For", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.1"),
            ("X_Forwarded_For", "6.6.6.6"),
            ("X.Forwarded.For", "6.6.6.7"),
            ("X-Real-IP", "6.6.6.8"),
        ]
    )
    removed = strip(headers, FORWARDING, TRUSTED_FORWARDING)
    assert removed == ("x-real-ip", "x.forwarded.for", "x_forwarded_for")
    assert headers.getall("X-Forwarded-For") == ["203.0.113.9", "198.51.100.1"]
    assert "x-real-ip" not in TRUSTED_FORWARDING


def test_nothing_to_strip_reports_nothing() -> None:
    headers = CIMultiDict([("Accept", "*/*")])
    assert strip(headers, route_strip_set((), frozenset())) == ()
    assert list(headers.items()) == [("Accept", "*/*")]
