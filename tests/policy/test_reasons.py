"""The policy's reason codes are one closed vocabulary with the gateway's `Reason`."""

from __future__ import annotations

import re

from authgate.decision import Reason
from authgate.policy import reasons
from authgate.server.pages import GENERIC_REASON, PLAIN_REASONS


def test_every_policy_code_is_a_reason() -> None:
    assert reasons.ALL - {reason.value for reason in Reason} == set()


def test_codes_are_kebab_case() -> None:
    assert all(re.fullmatch(r"[a-z]+(?:-[a-z]+)*", code) for code in reasons.ALL)


def test_every_policy_code_has_plain_words() -> None:
    for code in reasons.ALL - {reasons.USER_AUTHENTICATED}:
        sentence = PLAIN_REASONS.get(code, GENERIC_REASON)
        assert sentence != GENERIC_REASON, code
        assert sentence[0].isupper() and sentence.endswith("."), code


def test_pairs() -> None:
    # every criterion reports both ways; `-unknown` codes only where a fact can be missing
    ok = {code.removesuffix("-ok") for code in reasons.ALL if code.endswith("-ok")}
    assert ok == {
        "user",
        "email",
        "email-domain",
        "groups",
        "roles",
        "claim",
        "mfa",
        "acr",
        "amr",
        "auth-age",
        "country",
        "ip",
        "device",
        "time",
        "method",
        "path",
        "risk",
        "consent",
        "entitlement",
        "scopes",
    }
    unknown = {code.removesuffix("-unknown") for code in reasons.ALL if code.endswith("-unknown")}
    assert unknown == {"country", "ip", "device", "risk", "entitlement"}
