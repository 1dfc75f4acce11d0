"""The gateway's session cookie never reaches an upstream; other cookies do, intact."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from authgate.mutate.cookies import cookie_map, strip_cookie

CASES = [
    # (Cookie header values in, Cookie header values out)
    (["a=1; authgate=SESSION; b=2"], ["a=1; b=2"]),
    (["authgate=SESSION"], []),  # nothing left: no Cookie header at all
    (["authgate=SESSION; authgate=OTHER"], []),  # every copy
    (['__Host-authgate=SESSION; theme="dark"'], ['theme="dark"']),  # RFC 6265bis prefix
    (["__Secure-authgate=SESSION; x=1"], ["x=1"]),
    (['pref="a,b c"; authgate=S; lang=de'], ['pref="a,b c"; lang=de']),  # quoted value
    (["x=authgate=SESSION"], ["x=authgate=SESSION"]),  # the name is x
    (["authgate_state=abc; authgate=S"], ["authgate_state=abc"]),  # another name
    (["Authgate=S; AUTHGATE=T"], ["Authgate=S; AUTHGATE=T"]),  # names are case-sensitive
    (["flag; authgate=S"], ["flag"]),  # a pair without `=` is kept
    (["  authgate = S ;a=1;  ;b=2"], ["a=1; b=2"]),  # whitespace and empty pairs
    (["a=1; authgate=S", "b=2"], ["a=1; b=2"]),  # HTTP/2 crumbs become one header
    (["a=1", "authgate=S"], ["a=1"]),
    (["a=1", "b=2"], ["a=1; b=2"]),  # several headers: always one (RFC 6265 §5.4)
    (["a=1; b=2"], ["a=1; b=2"]),  # one header, none of ours: exactly as sent
    (["a=1;b=2"], ["a=1;b=2"]),
]


@pytest.mark.parametrize(("cookies_in", "cookies_out"), CASES)
def test_strip_cookie(cookies_in: list[str], cookies_out: list[str]) -> None:
    headers = CIMultiDict([("Accept", "*/*"), *(("Cookie", c) for c in cookies_in)])
    strip_cookie(headers, "authgate")
    assert headers.getall("Cookie", []) == cookies_out
    assert headers["Accept"] == "*/*"


def test_several_gateway_cookie_names() -> None:
    headers = CIMultiDict([("cookie", "authgate=S; authgate_device=D; app=1")])
    strip_cookie(headers, "authgate", "authgate_device")
    assert headers.getall("Cookie") == ["app=1"]


@pytest.mark.parametrize("name", ["authgate", "__Host-authgate", "__Secure-authgate"])
def test_any_form_of_the_name_strips_every_variant(name: str) -> None:
    cookie = "authgate=A; __Host-authgate=B; __Secure-authgate=C; app=1"
    headers = CIMultiDict([("Cookie", cookie)])
    strip_cookie(headers, name)
    assert headers.getall("Cookie") == ["app=1"]


def test_no_cookie_header_is_fine() -> None:
    headers = CIMultiDict([("Accept", "*/*")])
    strip_cookie(headers, "authgate")
    assert list(headers.items()) == [("Accept", "*/*")]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], {}),
        (["a=1; b=2"], {"a": "1", "b": "2"}),
        # RFC 9113 §8.2.3: cookies split over several fields are one list
        (["a=1", "b=2"], {"a": "1", "b": "2"}),
        # the first value of a name wins, across fields too (as Wire.cookie)
        (["a=1; a=2", "a=3"], {"a": "1"}),
        (["a=1", "a=3; b=4"], {"a": "1", "b": "4"}),
        (['q="quoted"'], {"q": "quoted"}),
        ([" spaced = v ;  ; x=y"], {"spaced": "v", "x": "y"}),
    ],
)
def test_cookie_map_reads_every_cookie_header(headers: list[str], expected: dict[str, str]) -> None:
    assert cookie_map(headers) == expected
