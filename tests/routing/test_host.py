"""normalize_host and normalize_host_pattern, as tables."""

from __future__ import annotations

import pytest

from authgate.routing import HostRejected, normalize_host, normalize_host_pattern

HOSTS = [
    ("example.com", "example.com"),
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    ("example.com:8080", "example.com"),
    ("EXAMPLE.com.:443", "example.com"),
    ("a.example.com:8080", "a.example.com"),
    ("a-b.c-d.example", "a-b.c-d.example"),
    ("localhost", "localhost"),
    ("xn--caf-dma.example", "xn--caf-dma.example"),
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.1:80", "127.0.0.1"),
    ("[::1]", "[::1]"),
    ("[::1]:8080", "[::1]"),
    ("[0:0:0:0:0:0:0:1]", "[::1]"),
    ("[2001:DB8::1]:443", "[2001:db8::1]"),
    ("a" * 63 + ".example", "a" * 63 + ".example"),
    ("example.com:65535", "example.com"),
]

BAD_HOSTS = [
    (None, "missing"),
    ("", "missing"),
    (".", "missing"),
    (":80", "missing"),
    ("user@example.com", "userinfo"),
    ("user:pw@example.com", "userinfo"),
    ("example.com@evil.com", "userinfo"),
    ("example.com:", "bad-port"),
    ("example.com:0", "bad-port"),
    ("example.com:65536", "bad-port"),
    ("example.com:80a", "bad-port"),
    ("example.com:+80", "bad-port"),
    ("example.com:\u0661", "bad-port"),  # an Arabic-Indic digit is not a port digit
    ("example.com:80:80", "invalid"),
    ("::1", "invalid"),
    ("[::1", "invalid"),
    ("[::1]x", "invalid"),
    ("[::g]", "invalid"),
    ("[fe80::1%25eth0]", "invalid"),
    ("[v1.x]", "invalid"),
    ("a..example.com", "invalid"),
    (".example.com", "invalid"),
    ("example.com..", "invalid"),
    ("exa mple.com", "invalid"),
    ("example.com ", "invalid"),
    ("exam_ple.com", "invalid"),
    ("example.com/x", "invalid"),
    ("*.example.com", "invalid"),
    ("café.example", "invalid"),
    ("\u212aey.example.com", "invalid"),  # KELVIN SIGN lowercases to ASCII 'k'
    ("a" * 64 + ".example", "invalid"),
    (("a" * 60 + ".") * 5, "invalid"),  # over 253 characters
    ("a" * 60 + ("." + "a" * 60) * 4, "invalid"),  # the same without the trailing dot
    ("a" * 60 + ("." + "a" * 60) * 4 + ":80", "invalid"),
    ("example.com\r\nx-injected", "invalid"),
    ("example.com\r\nX: y", "bad-port"),
]


@pytest.mark.parametrize(("value", "expected"), HOSTS)
def test_normalize_host(value: str, expected: str) -> None:
    assert normalize_host(value) == expected


@pytest.mark.parametrize(("value", "code"), BAD_HOSTS)
def test_bad_host(value: str | None, code: str) -> None:
    with pytest.raises(HostRejected) as caught:
        normalize_host(value)
    assert caught.value.code == code


PATTERNS = [
    ("app.example.com", "app.example.com"),
    ("App.Example.com.", "app.example.com"),
    ("*.example.com", "*.example.com"),
    ("*.Example.COM", "*.example.com"),
    ("*.localhost", "*.localhost"),
    ("[::1]", "[::1]"),
    ("10.0.0.1", "10.0.0.1"),
]

BAD_PATTERNS = [
    ("app.example.com:8080", "bad-port"),
    ("*.example.com:443", "bad-port"),
    ("[::1]:80", "bad-port"),
    ("*", "wildcard"),
    ("*example.com", "wildcard"),
    ("a.*.example.com", "wildcard"),
    ("*.*.example.com", "wildcard"),
    ("example.*", "wildcard"),
    ("*.[::1]", "wildcard"),
    ("", "missing"),
    ("*.", "missing"),
    ("a..b", "invalid"),
    ("user@host", "userinfo"),
]


@pytest.mark.parametrize(("pattern", "expected"), PATTERNS)
def test_host_pattern(pattern: str, expected: str) -> None:
    assert normalize_host_pattern(pattern) == expected


@pytest.mark.parametrize(("pattern", "code"), BAD_PATTERNS)
def test_bad_host_pattern(pattern: str, code: str) -> None:
    with pytest.raises(HostRejected) as caught:
        normalize_host_pattern(pattern)
    assert caught.value.code == code
