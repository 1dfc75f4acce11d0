"""normalize_path / split_target / normalize_pattern: the one path form, as tables.

Each row is a request path as received and what routing (and the upstream) must see,
or the rejection code. The rules are documented in docs/path-normalization.md.
"""

from __future__ import annotations

import string
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.routing import (
    PathRejected,
    normalize_path,
    normalize_pattern,
    split_target,
)

ACCEPTED = [
    # unchanged
    ("/", "/"),
    ("/a", "/a"),
    ("/a/b/c", "/a/b/c"),
    ("/index.html", "/index.html"),
    ("/.well-known/openid-configuration", "/.well-known/openid-configuration"),
    ("/a/.hidden", "/a/.hidden"),
    ("/a/...", "/a/..."),
    ("/a/..b", "/a/..b"),
    ("/a/b..", "/a/b.."),
    ("/~user/x_y-z", "/~user/x_y-z"),
    ("/!$&'()*+,=:@", "/!$&'()*+,=:@"),
    # unreserved escapes decoded (RFC 3986 §6.2.2.2)
    ("/%41", "/A"),
    ("/%61%62%63", "/abc"),
    ("/%7E", "/~"),
    ("/%7e", "/~"),
    ("/%2D%5F%2E", "/-_."),
    ("/%30%39", "/09"),
    ("/a%2eb", "/a.b"),
    # other escapes kept, hex uppercased (RFC 3986 §6.2.2.1)
    ("/%3b", "/%3B"),
    ("/a%3Bb", "/a%3Bb"),
    ("/%20", "/%20"),
    ("/%25", "/%25"),
    ("/%252F", "/%252F"),
    ("/%c3%a9", "/%C3%A9"),
    ("/%2a", "/%2A"),
    ("/%3f", "/%3F"),
    ("/a%3F%3Bb", "/a%3F%3Bb"),
    # strict UTF-8, any length of sequence (RFC 3629)
    ("/%C2%80", "/%C2%80"),
    ("/%DF%BF", "/%DF%BF"),
    ("/%E0%A0%80", "/%E0%A0%80"),
    ("/%EF%BF%BD", "/%EF%BF%BD"),
    ("/%F0%90%80%80", "/%F0%90%80%80"),
    ("/%F4%8F%BF%BF", "/%F4%8F%BF%BF"),
    # raw characters that may not be literal: percent-encoded UTF-8
    ("/café", "/caf%C3%A9"),
    ("/日本", "/%E6%97%A5%E6%9C%AC"),
    ("/x y", "/x%20y"),
    ('/"q"', "/%22q%22"),
    ("/<a>", "/%3Ca%3E"),
    ("/[a]", "/%5Ba%5D"),
    ("/a^b`c", "/a%5Eb%60c"),
    ("/{a|b}", "/%7Ba%7Cb%7D"),
    ("/\u0085", "/%C2%85"),  # a C1 control is not ASCII: encoded, not a separator
    # dot segments (RFC 3986 §5.2.4), after decoding unreserved
    ("/a/./b", "/a/b"),
    ("/a/../b", "/b"),
    ("/a/b/../c", "/a/c"),
    ("/a/b/../../c", "/c"),
    ("/../../etc", "/etc"),
    ("/../../etc/passwd", "/etc/passwd"),
    ("/..", "/"),
    ("/.", "/"),
    ("/./", "/"),
    ("/a/%2e%2e/b", "/b"),
    ("/a/%2E%2E/b", "/b"),
    ("/a/.%2E/b", "/b"),
    ("/a/%2e./b", "/b"),
    ("/a/%2e/b", "/a/b"),
    ("/%2e%2e/%2e%2e/etc", "/etc"),
    # duplicate slashes
    ("//", "/"),
    ("//a///b", "/a/b"),
    ("/a//b", "/a/b"),
    ("//a//../b", "/b"),
    ("/a//", "/a/"),
    # trailing slash preserved
    ("/a/", "/a/"),
    ("/a/.", "/a/"),
    ("/a/..", "/"),
    ("/a/b/..", "/a/"),
    ("/a/b/../", "/a/"),
    ("/a/./", "/a/"),
    # matrix parameters are data
    ("/a;b=c/d", "/a;b=c/d"),
    ("/a;jsessionid=1", "/a;jsessionid=1"),
    ("/;x/y", "/;x/y"),
    ("/a/...;x", "/a/...;x"),
    ("/a/.x;y", "/a/.x;y"),
    ("/a/%3Bx", "/a/%3Bx"),
]

REJECTED = [
    # not origin-form (RFC 9112 §3.2.1)
    ("", "not-origin-form"),
    ("*", "not-origin-form"),
    ("http://x/", "not-origin-form"),
    ("a/b", "not-origin-form"),
    ("%2F", "not-origin-form"),
    # fragment, query, backslash
    ("/a#b", "fragment"),
    ("/#", "fragment"),
    ("/a?b", "question-mark"),
    ("/a\\b", "backslash"),
    ("/..\\admin", "backslash"),
    # controls, literal or encoded
    ("/%00", "control-char"),
    ("/a%00.html", "control-char"),
    ("/%0a", "control-char"),
    ("/%0D%0A", "control-char"),
    ("/%1f", "control-char"),
    ("/%7f", "control-char"),
    ("/a\tb", "control-char"),
    ("/a\nb", "control-char"),
    ("/a\x00", "control-char"),
    ("/a\x7f", "control-char"),
    # malformed escapes
    ("/%", "bad-escape"),
    ("/a%", "bad-escape"),
    ("/%1", "bad-escape"),
    ("/%1/", "bad-escape"),
    ("/%G1", "bad-escape"),
    ("/%1G", "bad-escape"),
    ("/%u002e", "bad-escape"),
    ("/%%41", "bad-escape"),
    ("/%\u0661\u0662", "bad-escape"),  # Arabic-Indic digits are not hex
    # encoded separators (CVE-2019-9901 class)
    ("/%2F", "encoded-slash"),
    ("/%2f", "encoded-slash"),
    ("/a%2Fb", "encoded-slash"),
    ("/..%2Fadmin", "encoded-slash"),
    ("/%5C", "encoded-backslash"),
    ("/a%5cb", "encoded-backslash"),
    # dot segments with parameters (CVE-2020-1957 `..;/` class)
    ("/..;/admin", "dot-segment-params"),
    ("/public/..;/admin", "dot-segment-params"),
    ("/x/.;/y", "dot-segment-params"),
    ("/.;", "dot-segment-params"),
    ("/%2e%2e;/x", "dot-segment-params"),
    ("/%2E;x=1/y", "dot-segment-params"),
    ("/..;jsessionid=1/admin", "dot-segment-params"),
    ("/..%3B/admin", "dot-segment-params"),
    ("/..%3b/admin", "dot-segment-params"),
    # an encoded '#': cut off by upstreams that decode before routing
    ("/%23", "encoded-fragment"),
    ("/a%23b", "encoded-fragment"),
    ("/admin%23.css", "encoded-fragment"),
    ("/a%3F%23b", "encoded-fragment"),
    # overlong UTF-8: '.' and '/' to a lenient decoder (CVE-2000-0884, CVE-2008-2938)
    ("/%C0%AE", "invalid-utf8"),
    ("/%c0%ae", "invalid-utf8"),
    ("/%C0%AF", "invalid-utf8"),
    ("/%C0%AE%C0%AE/admin", "invalid-utf8"),
    ("/a/%C0%AE%C0%AE%C0%AFadmin", "invalid-utf8"),
    ("/%C1%9C", "invalid-utf8"),  # overlong '\\'
    ("/%C0%80", "invalid-utf8"),  # overlong NUL ("modified UTF-8")
    ("/%E0%80%AF", "invalid-utf8"),
    ("/%E0%80%AE", "invalid-utf8"),
    ("/%F0%80%80%AF", "invalid-utf8"),
    ("/%F8%80%80%80%AF", "invalid-utf8"),  # five-byte form, never UTF-8
    ("/%FC%80%80%80%80%AF", "invalid-utf8"),  # six-byte form
    # other invalid UTF-8 after decoding
    ("/%FF", "invalid-utf8"),
    ("/%FE%FF", "invalid-utf8"),
    ("/%80", "invalid-utf8"),  # a lone continuation byte
    ("/%C3", "invalid-utf8"),  # a truncated sequence
    ("/%C3/x", "invalid-utf8"),
    ("/%E6%97", "invalid-utf8"),
    ("/%ED%A0%80", "invalid-utf8"),  # an encoded surrogate (CESU-8)
    ("/%F4%90%80%80", "invalid-utf8"),  # above U+10FFFF
    ("/%F5%80%80%80", "invalid-utf8"),
    ("/caf%E9", "invalid-utf8"),  # Latin-1, not UTF-8
    ("/\udcff", "invalid-utf8"),  # a raw non-UTF-8 byte, via aiohttp's surrogateescape
    ("/\udcc0\udcae", "invalid-utf8"),  # a raw overlong '.'
    # not Unicode at all
    ("/\ud800", "bad-char"),
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_accepted(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize(("raw", "code"), REJECTED)
def test_rejected(raw: str, code: str) -> None:
    with pytest.raises(PathRejected) as caught:
        normalize_path(raw)
    assert caught.value.code == code
    assert caught.value.detail


def test_table_is_big_enough() -> None:
    assert len(ACCEPTED) + len(REJECTED) >= 60


def test_rejection_is_a_value_error() -> None:
    # Config validation treats pattern rejections like any other bad value.
    assert issubclass(PathRejected, ValueError)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a", ("/a", "")),
        ("/a?", ("/a", "")),
        ("/a?b=1", ("/a", "b=1")),
        ("/a?b=1?c", ("/a", "b=1?c")),
        ("/a?b=%2F/x", ("/a", "b=%2F/x")),
        ("/?", ("/", "")),
    ],
)
def test_split_target(target: str, expected: tuple[str, str]) -> None:
    assert split_target(target) == expected


PATTERNS = [
    ("/api", "/api"),
    ("/api/", "/api/"),
    ("/static/**", "/static/**"),
    ("/users/*/profile", "/users/*/profile"),
    ("/files/?.txt", "/files/?.txt"),
    ("//static//**", "/static/**"),
    ("/%7euser/*", "/~user/*"),
    ("/caf%c3%a9/*", "/caf%C3%A9/*"),
    ("/café/*", "/caf%C3%A9/*"),
    ("/$%7Bliteral%7D", "/$%7Bliteral%7D"),
]


@pytest.mark.parametrize(("pattern", "expected"), PATTERNS)
def test_normalize_pattern(pattern: str, expected: str) -> None:
    assert normalize_pattern(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "glob", "code"),
    [
        ("api", True, "not-origin-form"),
        ("/a/../b", True, "dot-segment"),
        ("/a/./b", True, "dot-segment"),
        ("/*/..", True, "dot-segment"),
        ("/a/%2e%2e/*", True, "dot-segment"),
        ("/..;/x", True, "dot-segment-params"),
        ("/a%2Fb", True, "encoded-slash"),
        ("/a?", False, "question-mark"),
        ("/a#", True, "fragment"),
        ("/a%23/*", True, "encoded-fragment"),
        ("/%C0%AE/**", True, "invalid-utf8"),
        ("/caf%E9/*", True, "invalid-utf8"),
    ],
)
def test_normalize_pattern_rejects(pattern: str, glob: bool, code: str) -> None:
    with pytest.raises(PathRejected) as caught:
        normalize_pattern(pattern, glob=glob)
    assert caught.value.code == code


# --- properties -------------------------------------------------------------------

_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_PIECES = st.sampled_from(
    ["/", "//", ".", "..", "/./", "/../", ";", "a", "B", "~", "%2e", "%2E", "%41", "%3b",
     "%20", "%c3%a9", "é", " ", "*", "$", "%25"]
)
_PATHS = st.lists(_PIECES, max_size=12).map(lambda parts: "/" + "".join(parts))


def _normalized_or_none(raw: str) -> str | None:
    try:
        return normalize_path(raw)
    except PathRejected:
        return None


@given(_PATHS)
def test_idempotent(raw: str) -> None:
    once = _normalized_or_none(raw)
    if once is not None:
        assert normalize_path(once) == once


@given(_PATHS)
def test_output_has_no_empty_or_dot_segments(raw: str) -> None:
    out = _normalized_or_none(raw)
    if out is not None:
        assert out.startswith("/")
        assert "//" not in out
        assert "/./" not in out and "/../" not in out
        assert not out.endswith(("/.", "/.."))


@given(st.text(max_size=40))
def test_arbitrary_text_is_canonical_or_rejected(raw: str) -> None:
    out = _normalized_or_none("/" + raw)
    if out is not None:
        assert normalize_path(out) == out
        assert out.isascii()
        assert not any(char in out for char in "#?\\ \t\r\n\x00")


@given(_PATHS, st.data())
def test_escaping_an_unreserved_char_changes_nothing(raw: str, data: st.DataObject) -> None:
    out = _normalized_or_none(raw)
    spots = [index for index, char in enumerate(raw) if char in _UNRESERVED]
    if out is None or not spots:
        return
    spot = data.draw(st.sampled_from(spots))
    hex_pair = f"{ord(raw[spot]):02x}"
    spelled = data.draw(st.sampled_from([hex_pair.upper(), hex_pair.lower()]))
    escaped = raw[:spot] + "%" + spelled + raw[spot + 1 :]
    # An escape right after "%" would build a new, different escape: skip those.
    if not raw[max(0, spot - 2) : spot].count("%"):
        assert normalize_path(escaped) == out


@given(st.binary(min_size=1, max_size=12))
def test_escaped_bytes_pass_only_as_strict_utf8(data: bytes) -> None:
    # Every byte string, percent-encoded: accepted exactly when it is strict UTF-8
    # (and holds nothing refused for other reasons), whatever a lenient decoder does.
    raw = "/" + "".join(f"%{byte:02X}" for byte in data)
    out = _normalized_or_none(raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        assert out is None
        return
    plain = not any(c in text for c in "#/\\") and all(" " <= c != "\x7f" for c in text)
    plain = plain and not (";" in text and text.split(";")[0] in (".", ".."))
    assert (out is not None) == plain
    if out is not None:
        assert unquote_to_bytes(out).decode("utf-8")
