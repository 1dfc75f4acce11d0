"""email_domain: the domain after the `@`, exact or explicit subdomains, fail closed.

A malformed address (more than one `@`, an empty part, a domain that is not plain
ASCII DNS) is UNKNOWN: it satisfies no allow rule and trips every deny rule about
email domains, whichever domain a parser would pick.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from authgate.policy import reasons as r
from authgate.policy.criteria.email import email_domain
from tests.policy.personas import alice_admin, policy, request, run

CORP = ["corp.com"]
SUBS = ["*.corp.com"]
BOTH = ["corp.com", "*.corp.com"]


@pytest.mark.parametrize(
    ("address", "patterns", "expected"),
    [
        ("user@corp.com", CORP, True),
        ("USER@CORP.COM", CORP, True),
        ("User@Corp.Com", ["CORP.com"], True),
        ("user@corp.com", SUBS, False),  # `*.` is subdomains only
        ("user@eu.corp.com", SUBS, True),
        ("user@a.b.corp.com", SUBS, True),  # any depth
        ("user@eu.corp.com", CORP, False),  # exact means exact
        ("user@corp.com", BOTH, True),
        ("user@EU.Corp.COM", BOTH, True),
        ("user@corp.com.evil.com", BOTH, False),
        ("user@evilcorp.com", BOTH, False),
        ("user@xcorp.com", SUBS, False),
        ("user@corp.co", BOTH, False),
        ("user@evil.com", BOTH, False),
    ],
)
def test_well_formed_addresses(address: str, patterns: list[str], expected: bool) -> None:
    who = replace(alice_admin, email=address)
    result = run(policy(allow=[{"email_domain": patterns}]), request(who))
    assert result.allowed is expected
    assert (r.EMAIL_DOMAIN_OK if expected else r.EMAIL_DOMAIN_UNAUTHORIZED) in result.reasons


MALFORMED = [
    "user@evil.com@corp.com",
    "user@corp.com@evil.com",
    "@corp.com",
    "user@",
    "user",
    "user@corp.com.",
    "user@corp..com",
    "user@c\u212aorp.com",  # Kelvin sign: lowercases to `k` with str.lower()
    "user@corp.com ",
    "user@corp.com\n",
]


@pytest.mark.parametrize("address", MALFORMED)
def test_malformed_address_never_allows(address: str) -> None:
    who = replace(alice_admin, email=address)
    result = run(
        policy(allow=[{"email_domain": BOTH}, {"email_domain": ["evil.com"]}]), request(who)
    )
    assert not result.allowed
    assert r.EMAIL_MALFORMED in result.reasons


@pytest.mark.parametrize("address", MALFORMED)
def test_malformed_address_trips_a_deny(address: str) -> None:
    who = replace(alice_admin, email=address)
    config = policy(allow=[{"authenticated": True}], deny=[{"email_domain": ["evil.com"]}])
    result = run(config, request(who))
    assert not result.allowed
    assert result.rule == "routes[r].policy.deny[0]"
    assert result.reasons == (r.EMAIL_MALFORMED,)


def test_double_at_cannot_bypass_a_domain_deny_through_not() -> None:
    # `not` of unknown stays unknown: "not evil.com" does not hold for a malformed address
    who = replace(alice_admin, email="user@evil.com@corp.com")
    config = policy(allow=[{"not": {"email_domain": ["evil.com"]}}])
    assert not run(config, request(who)).allowed


def test_unverified_address_is_unknown() -> None:
    who = replace(alice_admin, email="user@corp.com", email_verified=False)
    assert not run(policy(allow=[{"email_domain": CORP}]), request(who)).allowed
    denied = run(
        policy(allow=[{"authenticated": True}], deny=[{"email_domain": ["x.com"]}]), request(who)
    )
    assert denied.reasons == (r.EMAIL_UNVERIFIED,)


def test_email_compare_does_not_fold_unicode_lookalikes() -> None:
    # "\u212a" (KELVIN SIGN).lower() == "k": a full lowercase would let it match
    who = replace(alice_admin, email="\u212aate@corp.com")
    assert not run(policy(allow=[{"email": ["kate@corp.com"]}]), request(who)).allowed


@pytest.mark.parametrize(
    ("address", "domain"),
    [("a@B.com", "b.com"), ("a@b@c.com", None), ("a@", None), ("@b.com", None), ("ab.com", None)],
)
def test_email_domain_parser(address: str, domain: str | None) -> None:
    assert email_domain(address) == domain


@pytest.mark.parametrize("pattern", ["@corp.com", "*corp.com", "corp.com.", "*.*.corp.com", ""])
def test_bad_domain_patterns_are_refused_at_load(pattern: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        policy(allow=[{"email_domain": [pattern]}])
