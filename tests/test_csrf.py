"""server/csrf.cross_site: the browser's own word on where a POST came from."""

from __future__ import annotations

import pytest

from authgate.server.csrf import cross_site

OWN = ("https", "app.example.com")

CASES = [
    # (headers, scheme, authority, cross-site?)
    ({}, *OWN, False),  # the browser says nothing: the token decides
    ({"Sec-Fetch-Site": "same-origin"}, *OWN, False),
    ({"Sec-Fetch-Site": "Same-Origin "}, *OWN, False),
    ({"Sec-Fetch-Site": "same-site"}, *OWN, True),  # a sibling subdomain is another app
    ({"Sec-Fetch-Site": "cross-site"}, *OWN, True),
    ({"Sec-Fetch-Site": "none"}, *OWN, True),  # typed or bookmarked: never a form POST
    ({"Sec-Fetch-Site": ""}, *OWN, True),
    ({"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}, *OWN, True),
    ({"Sec-Fetch-Site": "same-origin", "Origin": "null"}, *OWN, False),
    ({"Origin": "https://app.example.com"}, *OWN, False),
    ({"Origin": "HTTPS://APP.EXAMPLE.COM"}, *OWN, False),
    ({"Origin": "https://app.example.com:443"}, *OWN, False),
    ({"Origin": "https://app.example.com"}, "https", "app.example.com:443", False),
    ({"Origin": "null"}, *OWN, False),  # Referrer-Policy: no-referrer sends null
    ({"Origin": "https://evil.example"}, *OWN, True),
    ({"Origin": "https://app.example.com:8443"}, *OWN, True),
    ({"Origin": "http://app.example.com"}, *OWN, True),
    ({"Origin": "https://app.example.com.evil.example"}, *OWN, True),
    ({"Origin": "https://sub.app.example.com"}, *OWN, True),
    ({"Origin": "http://127.0.0.1:8080"}, "http", "127.0.0.1:8080", False),
    ({"Origin": "http://127.0.0.1"}, "http", "127.0.0.1:8080", True),
    ({"Origin": "http://127.0.0.1:80"}, "http", "127.0.0.1", False),
    ({"Origin": "http://[::1]:8080"}, "http", "[::1]:8080", False),
    ({"Origin": "http://[::1]"}, "http", "[::1]:8080", True),
    ({"Origin": "http://[0:0::1]:8080"}, "http", "[::1]:8080", False),
    ({"Origin": "https://app.example.com/path"}, *OWN, True),  # not an origin at all
    ({"Origin": "https://user@app.example.com"}, *OWN, True),
    ({"Origin": "ftp://app.example.com"}, *OWN, True),
    ({"Origin": "garbage"}, *OWN, True),
]


@pytest.mark.parametrize(("headers", "scheme", "authority", "expected"), CASES)
def test_cross_site(headers: dict[str, str], scheme: str, authority: str, expected: bool) -> None:
    assert cross_site(headers, scheme=scheme, authority=authority) is expected
