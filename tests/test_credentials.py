"""Duplicated credentials: a second Authorization or gateway cookie is named (table)."""

from __future__ import annotations

import pytest

from authgate.credentials import duplicated_credential

COOKIES = ("__Host-authgate", "__Host-authgate-login")
CASES = [
    # (headers, what is duplicated)
    ([("Authorization", "Bearer a")], None),
    ([("Authorization", "Bearer a"), ("Authorization", "Bearer b")], "authorization"),
    ([("Authorization", "Bearer a"), ("authorization", "Bearer a")], "authorization"),
    ([("authorization", "Bearer a"), ("AUTHORIZATION", "Basic eA==")], "authorization"),
    ([("Authorization", ""), ("Authorization", "Bearer a")], "authorization"),
    ([("Proxy-Authorization", "Basic eA=="), ("Authorization", "Bearer a")], None),
    ([("Cookie", "__Host-authgate=S")], None),
    ([("Cookie", "__Host-authgate=S; __Host-authgate=T")], "__Host-authgate"),
    ([("Cookie", "__Host-authgate=S; __Host-authgate=S")], "__Host-authgate"),  # same value
    ([("Cookie", "a=1; __Host-authgate=S"), ("Cookie", "__Host-authgate=T")], "__Host-authgate"),
    ([("cookie", "__Host-authgate=S"), ("COOKIE", "__Host-authgate=T")], "__Host-authgate"),
    ([("Cookie", "__Host-authgate-login=L"), ("Cookie", "__Host-authgate-login=M")], "__Host-authgate-login"),
    ([("Cookie", "__Host-authgate=S"), ("Cookie", "__Host-authgate-login=L")], None),
    ([("Cookie", "__Host-authgate=S; authgate=T")], None),  # another name (unprefixed)
    ([("Cookie", "__host-authgate=S; __Host-authgate=T")], None),  # names are case-sensitive
    ([("Cookie", "x=__Host-authgate=S; __Host-authgate=T")], None),  # x's value
    ([("Cookie", "a=1"), ("Cookie", "a=2")], None),  # not the gateway's cookie
    ([("Cookie", ' __Host-authgate = S ;__Host-authgate="T"')], "__Host-authgate"),
    ([], None),
]


@pytest.mark.parametrize(("headers", "duplicated"), CASES)
def test_duplicated_credential(headers: list[tuple[str, str]], duplicated: str | None) -> None:
    assert duplicated_credential(headers, COOKIES) == duplicated
