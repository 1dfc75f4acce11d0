"""check_return_url: corpora of unsafe and safe candidates, edge cases, properties.

The corpora are files next to this module (`corpus_unsafe.txt`, `corpus_safe.txt`);
their escape encoding is documented at the top of `corpus_unsafe.txt`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.redirects import MAX_LENGTH, OtherPorts, check_return_url

HERE = Path(__file__).parent
CURRENT = "https://good.example"
EXACT_HOSTS = frozenset({"good.example", "app.example.com", "10.0.0.5", "[2001:db8::1]"})
WILDCARD_SUFFIXES = (".apps.example.com",)
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|([tnrvf0\\]))|(\\)")
_SIMPLE = {"t": "\t", "n": "\n", "r": "\r", "v": "\v", "f": "\f", "0": "\0", "\\": "\\"}


def serves_host(host: str) -> bool:
    """The route table's answer: exact hosts and `*.apps.example.com`."""
    # The contract: lowercase, no port (IPv6 keeps its brackets).
    assert host == host.lower() and host.isascii()
    assert host.startswith("[") or ":" not in host
    return host in EXACT_HOSTS or any(
        host.endswith(suffix) and len(host) > len(suffix) for suffix in WILDCARD_SUFFIXES
    )


def safe_return_url(
    candidate: str | None,
    *,
    scheme: str,
    host: str,
    serves_host: Callable[[str], bool],
    other_ports: OtherPorts = lambda host, path: (),
    default: str = "/",
) -> str:
    """The URL alone, for the tests that do not look at `rejected`."""
    return check_return_url(
        candidate,
        scheme=scheme,
        host=host,
        serves_host=serves_host,
        other_ports=other_ports,
        default=default,
    ).url


def other_ports(host: str, path: str) -> frozenset[int]:
    """The route for app.example.com/orders/** lists `return_ports: [8443]`."""
    assert host == host.lower() and host.isascii()
    listed = host == "app.example.com" and (path == "/orders" or path.startswith("/orders/"))
    return frozenset({8443}) if listed else frozenset()


def check(candidate: str | None, current: str = CURRENT, default: str = "/") -> str:
    scheme, _, host = current.partition("://")
    return safe_return_url(
        candidate,
        scheme=scheme,
        host=host,
        serves_host=serves_host,
        other_ports=other_ports,
        default=default,
    )


def unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        hex2, hex4, simple, stray = match.groups()
        if stray is not None:
            raise ValueError(f"stray backslash in corpus line {text!r}")
        if simple is not None:
            return _SIMPLE[simple]
        return chr(int(hex2 or hex4, 16))

    return _ESCAPE.sub(replace, text)


def corpus(name: str) -> list[tuple[int, str]]:
    lines = (HERE / name).read_text("utf-8").split("\n")
    return [
        (number, line)
        for number, line in enumerate(lines, start=1)
        if line and not line.startswith("#")
    ]


UNSAFE = [
    (number, unescape(payload), rest[0] if rest else CURRENT)
    for number, line in corpus("corpus_unsafe.txt")
    for payload, *rest in [line.split("\t")]
]
SAFE = [
    (number, unescape(candidate), expected, rest[0] if rest else CURRENT)
    for number, line in corpus("corpus_safe.txt")
    for candidate, expected, *rest in [line.split("\t")]
]


def test_corpora_are_big_enough() -> None:
    assert len(UNSAFE) >= 120
    assert len(SAFE) >= 25
    assert len({(payload, current) for _, payload, current in UNSAFE}) == len(UNSAFE), "duplicates"


@pytest.mark.parametrize(
    ("number", "payload", "current"), UNSAFE, ids=[f"L{row[0]}" for row in UNSAFE]
)
def test_unsafe_payload_gives_the_default(number: int, payload: str, current: str) -> None:
    assert check(payload, current=current) == f"{current}/"
    assert check(payload, current=current, default="/home") == f"{current}/home"


@pytest.mark.parametrize(
    ("number", "candidate", "expected", "current"), SAFE, ids=[f"L{row[0]}" for row in SAFE]
)
def test_safe_candidate(number: int, candidate: str, expected: str, current: str) -> None:
    assert check(candidate, current=current) == expected


def test_escape_decoder() -> None:
    assert unescape(r"/\\evil\t\x20\u3002\0") == "/\\evil\t \u3002\0"
    with pytest.raises(ValueError, match="stray backslash"):
        unescape(r"/\evil.com")


@pytest.mark.parametrize("candidate", [None, ""])
def test_missing_candidate_gives_the_default(candidate: str | None) -> None:
    assert check(candidate, default="/start") == "https://good.example/start"


def test_length_limit() -> None:
    longest = "/" + "a" * (MAX_LENGTH - 1)
    assert check(longest) == CURRENT + longest
    assert check(longest + "a") == CURRENT + "/"
    assert check("https://good.example/" + "a" * MAX_LENGTH) == CURRENT + "/"


def test_current_host_with_port_is_kept_for_relative_candidates() -> None:
    assert check("/x", current="http://good.example:8080") == "http://good.example:8080/x"


@pytest.mark.parametrize(
    ("candidate", "rejected"),
    [(None, False), ("", False), ("/x", False), ("https://good.example/x", False),
     ("https://evil.com/", True), ("https://good.example:8443/", True), ("//evil", True),
     ("http://good.example/", True), ("\t", True)],
)
def test_check_says_whether_a_given_candidate_was_refused(
    candidate: str | None, rejected: bool
) -> None:
    """A missing return URL is not a refusal; an unsafe one is (the record notes it)."""
    result = check_return_url(
        candidate, scheme="https", host="good.example", serves_host=serves_host
    )
    assert result.rejected is rejected
    assert result.url == (CURRENT + "/" if rejected or not candidate else check(candidate))


def test_other_ports_sees_host_and_path_of_a_routed_host_only() -> None:
    seen: list[tuple[str, str]] = []

    def record(host: str, path: str) -> frozenset[int]:
        seen.append((host, path))
        return frozenset()

    candidates = [
        "https://App.Example.com:8443/orders/7?x",
        "https://evil.com:8443/",
        "/x",
        "https://good.example/",
        "https://good.example:443/",
    ]
    for candidate in candidates:
        safe_return_url(
            candidate, scheme="https", host="good.example", serves_host=serves_host, other_ports=record
        )
    # Asked only when the port is not the current one, and never for an unserved host.
    assert seen == [("app.example.com", "/orders/7")]


def test_serves_host_sees_canonical_host() -> None:
    seen: list[str] = []

    def record(host: str) -> bool:
        seen.append(host)
        return True

    safe_return_url(
        "HTTPS://App.Example.COM:8443/x", scheme="https", host="h", serves_host=record
    )
    safe_return_url("https://[2001:DB8:0::1]/", scheme="https", host="h", serves_host=record)
    assert seen == ["app.example.com", "[2001:db8::1]"]


def test_predicate_is_not_asked_about_refused_shapes() -> None:
    def never(host: str) -> bool:
        raise AssertionError(f"asked about {host!r}")

    for candidate in ("https://a@b/", "//evil.com", "javascript:x", "https://evil。com/"):
        assert safe_return_url(candidate, scheme="https", host="h", serves_host=never)


@pytest.mark.parametrize("scheme", ["ftp", "HTTPS", "", "javascript"])
def test_bad_current_scheme_is_a_caller_error(scheme: str) -> None:
    with pytest.raises(ValueError, match="scheme"):
        safe_return_url("/", scheme=scheme, host="good.example", serves_host=serves_host)


@pytest.mark.parametrize(
    "host", ["", "evil.com/x", "a@good.example", "good.example\t", "\uff47ood.example", "a b"]
)
def test_bad_current_host_is_a_caller_error(host: str) -> None:
    with pytest.raises(ValueError, match="host"):
        safe_return_url("/", scheme="https", host=host, serves_host=serves_host)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("Good.Example", "good.example"), ("good.example.:8443", "good.example.:8443"),
     ("[::1]:8080", "[::1]:8080")],
)
def test_current_host_is_lowercased_and_kept(host: str, expected: str) -> None:
    result = safe_return_url("/x", scheme="https", host=host, serves_host=serves_host)
    assert result == f"https://{expected}/x"


@pytest.mark.parametrize("default", ["", "//evil.com", "https://evil.com/", "x", "/\\x", "/\t"])
def test_bad_default_is_a_caller_error(default: str) -> None:
    with pytest.raises(ValueError, match="default"):
        check("/", default=default)


def test_module_is_pure() -> None:
    probe = (
        "import authgate.redirects, sys; "
        "print(sorted(m for m in ('aiohttp', 'yarl', 'multidict', 'redis') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- properties -------------------------------------------------------------------

ATOMS = [
    "/", "//", "\\", "/\\", "https:", "http:", "HTTPS:", "javascript:", "data:",
    "good.example", "app.example.com", "x.apps.example.com", "evil.com", "10.0.0.5",
    "[2001:db8::1]", "[::1]", "@", ":", ":443", ":0", ".", "..", "?", "#", "%",
    "%2F", "%2f", "%5C", "%09", "%0a", "%00", "%20", "%25", "%E3%80%82", "%EF%BC%8F",
    " ", "\t", "\n", "\x00", "\x7f", "\u3002", "\uff0f", "\uff3c", "\u202e", "\u200b",
    "\u0435", "\u212a", "\u00a0", "\u3000", "é", "ß",
]
urlish = st.lists(
    st.one_of(st.sampled_from(ATOMS), st.text(max_size=3)), max_size=12
).map("".join)
_FORBIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def assert_safe(result: str, current_scheme: str) -> None:
    parts = urlsplit(result)
    host = re.sub(r":[0-9]+$", "", parts.netloc)
    assert host == "good.example" or serves_host(host), result
    assert parts.scheme == current_scheme, result
    assert (parts.port or 0) in (0, 80 if current_scheme == "http" else 443), result
    assert result.isascii() and "\\" not in result
    assert not any(unicodedata.category(char) in _FORBIDDEN for char in result), result
    assert parts.path.startswith("/") and not parts.path.startswith("//"), result


@settings(max_examples=2000)
@given(candidate=st.one_of(st.text(), urlish), current_scheme=st.sampled_from(["http", "https"]))
def test_any_string_lands_on_a_routed_host(candidate: str, current_scheme: str) -> None:
    result = safe_return_url(
        candidate, scheme=current_scheme, host="good.example", serves_host=serves_host
    )
    assert_safe(result, current_scheme)


@given(path=st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"])))
def test_plain_ascii_paths_round_trip(path: str) -> None:
    """An absolute path of printable ASCII is kept exactly, unless it is refused."""
    candidate = "/x" + path.replace("\\", "").replace(" ", "")
    assert check(candidate) in (CURRENT + candidate, CURRENT + "/")
