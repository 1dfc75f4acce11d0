"""Host, prefix, glob, regex and method matchers, as tables; globs also by property."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from authgate.routing import (
    ExactHost,
    HostRejected,
    PathRejected,
    WildcardHost,
    compile_glob,
    compile_host,
    compile_methods,
    compile_prefix,
    compile_regex,
)

# --- hosts ------------------------------------------------------------------------

HOST_CASES = [
    ("app.example.com", "app.example.com", True),
    ("App.Example.com", "app.example.com", True),  # patterns are lowercased
    ("app.example.com", "x.app.example.com", False),
    ("app.example.com", "example.com", False),
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "a.b.example.com", True),  # any depth
    ("*.example.com", "a.b.c.example.com", True),
    ("*.example.com", "example.com", False),  # never the apex
    ("*.example.com", "badexample.com", False),
    ("*.example.com", "a.example.com.evil.com", False),
    ("*.example.com", "example.com.a", False),
    ("*.Example.COM.", "a.example.com", True),
]


@pytest.mark.parametrize(("pattern", "host", "expected"), HOST_CASES)
def test_host_matcher(pattern: str, host: str, expected: bool) -> None:
    assert compile_host(pattern).matches(host) is expected


def test_host_matcher_kinds() -> None:
    assert compile_host("a.example.com") == ExactHost("a.example.com")
    assert compile_host("*.example.com") == WildcardHost(".example.com")


def test_bad_host_pattern_raises() -> None:
    with pytest.raises(HostRejected):
        compile_host("a.example.com:80")


# --- prefixes ---------------------------------------------------------------------

PREFIX_CASES = [
    ("/api", "/api", True),
    ("/api", "/api/", True),
    ("/api", "/api/x", True),
    ("/api", "/api/x/y", True),
    ("/api", "/api;v=1", True),  # Tomcat serves /api;v=1 as /api
    ("/api", "/api;v=1/x", True),
    ("/api", "/apix", False),  # segment-aware
    ("/api", "/api.json", False),
    ("/api", "/ap", False),
    ("/api", "/", False),
    ("/api", "/API", False),  # paths are case-sensitive
    ("/api/", "/api/", True),
    ("/api/", "/api/x", True),
    ("/api/", "/api", False),  # ends in '/': plain starts-with
    ("/", "/", True),
    ("/", "/anything/at/all", True),
    ("/a/b", "/a/b/c", True),
    ("/a/b", "/a/bc", False),
    ("/%7Euser", "/~user/x", True),  # the prefix is normalized like paths
    ("//api", "/api/x", True),
    ("/caf%c3%a9", "/caf%C3%A9", True),
    ("/café", "/caf%C3%A9/x", True),
]


@pytest.mark.parametrize(("prefix", "path", "expected"), PREFIX_CASES)
def test_prefix_matcher(prefix: str, path: str, expected: bool) -> None:
    assert compile_prefix(prefix).matches(path) is expected


@pytest.mark.parametrize("prefix", ["/a?", "/a/../b", "/%2F", "api", "/..;/x"])
def test_bad_prefix(prefix: str) -> None:
    with pytest.raises(PathRejected):
        compile_prefix(prefix)


# --- globs ------------------------------------------------------------------------

GLOB_CASES = [
    ("/static/**", "/static/", True),
    ("/static/**", "/static/a", True),
    ("/static/**", "/static/a/b/c.css", True),
    ("/static/**", "/static", False),
    ("/static/**", "/staticx/a", False),
    ("/users/*/profile", "/users/42/profile", True),
    ("/users/*/profile", "/users/4/2/profile", False),  # * stays in one segment
    ("/users/*/profile", "/users/42/profile/x", False),
    ("/users/*/profile", "/users//profile", True),  # * may be empty (normalization collapses //)
    ("/users/*", "/users/", True),  # * may be empty
    ("/users/*", "/users/a/b", False),
    ("/files/?.txt", "/files/a.txt", True),
    ("/files/?.txt", "/files/ab.txt", False),
    ("/files/?.txt", "/files/.txt", False),
    ("/files/?", "/files//", False),
    ("/a/?/b", "/a///b", False),  # ? never matches '/'
    ("/*.js", "/app.js", True),
    ("/*.js", "/dir/app.js", False),
    ("/**.js", "/dir/app.js", True),
    ("/**/*.js", "/dir/sub/app.js", True),
    ("/**/*.js", "/app.js", False),  # needs at least "/x/" around **
    ("/a/**/b", "/a/x/y/b", True),
    ("/a/**/b", "/a//b", True),
    ("/a/**/b", "/a/b", False),
    ("/a**", "/abc/def", True),
    ("/**", "/", True),
    ("/**", "/anything", True),
    ("/*", "/", True),
    ("/*", "/a/", False),
    ("/", "/", True),
    ("/", "/a", False),
    ("/healthz", "/healthz", True),
    ("/healthz", "/healthz/", False),
    ("/healthz", "/healthz;x", False),  # an exact glob is exact: fail closed
    ("/a.b", "/aXb", False),  # '.' is literal
    ("/a+b", "/aab", False),  # regex characters are literal
    ("/(a)", "/(a)", True),
    ("/$x", "/$x", True),
    ("/[ab]", "/%5Bab%5D", True),  # '[' is not glob syntax: literal, normalized
    ("/[ab]", "/a", False),
    ("/%7euser/*", "/~user/x", True),
    ("/caf%c3%a9/*", "/caf%C3%A9/x", True),
    ("/a*b*c", "/abc", True),
    ("/a*b*c", "/a-b-c", True),
    ("/a*b*c", "/a-b-c/", False),
    ("/a*b*c", "/acb", False),
    ("/**/x/*", "/a/x/b/x/c", True),  # the later /x/ must be taken
    ("/**a*b", "/xa/yab", True),
    ("/**a*b", "/xa/yb/", False),
    ("/**/x*b**bc", "/a/xbbc", True),  # the middle piece must end as early as it can
    ("/**/v*/**", "/api/v2/x", True),
    ("/**/v*/**", "/api/x/v/", True),
    ("/**/v*/**", "/api/x/w/", False),
    ("/a/**/b/**/c", "/a/1/b/2/c", True),
    ("/a/**/b/**/c", "/a/b/c", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), GLOB_CASES)
def test_glob_matcher(pattern: str, path: str, expected: bool) -> None:
    assert compile_glob(pattern).matches(path) is expected


@pytest.mark.parametrize(
    ("pattern", "code"),
    [
        ("/**a*b**", "unsupported-glob"),
        ("/x/**?*/**", "unsupported-glob"),
        ("static/**", "not-origin-form"),
        ("/a/../**", "dot-segment"),
        ("/a\\*", "backslash"),
    ],
)
def test_bad_glob(pattern: str, code: str) -> None:
    with pytest.raises(PathRejected) as caught:
        compile_glob(pattern)
    assert caught.value.code == code


def _reference(canonical: str) -> re.Pattern[str]:
    """The obvious translation: right by definition, exponential on bad input."""
    out = []
    for token in re.split(r"(\*\*+|\*|\?)", canonical):
        if token.startswith("**"):
            out.append(".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out), re.DOTALL)


_GLOB_TOKENS = st.sampled_from(["/", "a", "b", "ab", "*", "**", "?", "/*/", "/**/"])
_PATH_TOKENS = st.sampled_from(["/", "a", "b", "ab", "ba"])


@given(
    st.lists(_GLOB_TOKENS, max_size=7).map(lambda parts: "/" + "".join(parts)),
    st.lists(_PATH_TOKENS, max_size=10).map(lambda parts: "/" + "".join(parts)),
)
def test_glob_agrees_with_reference(pattern: str, raw_path: str) -> None:
    try:
        matcher = compile_glob(pattern)
    except PathRejected:
        assume(False)
        raise
    path = re.sub("/+", "/", raw_path)  # as normalize_path leaves it
    expected = _reference(matcher.pattern).fullmatch(path) is not None
    assert matcher.matches(path) is expected


# Paths up to the request-line limit (aiohttp: 8190 bytes) that make a literal
# glob-to-regex translation backtrack for minutes.
_LONG = 8000
REDOS_CASES = [
    ("/*a*a*b", "/" + "a" * _LONG),
    ("/*a*a*a*b", "/" + "a" * _LONG),
    ("/**a**a**b", "/" + "a" * _LONG),
    ("/**a**a*b", "/" + "a" * _LONG),
    ("/**/x*y*z", "/" + "x" * _LONG),
    ("/files/*.*", "/files/" + "." * _LONG + "/x"),
    ("/**/a/**/a/**/b", "/a" * (_LONG // 2)),
    ("/x/*/**/y*z", "/x/" + "y" * _LONG),
    ("/**/v*/**/v*/**/w", "/v" * (_LONG // 2)),
]


@pytest.mark.parametrize(("pattern", "path"), REDOS_CASES)
def test_glob_runs_in_linear_time(pattern: str, path: str) -> None:
    matcher = compile_glob(pattern)
    started = time.perf_counter()
    matcher.matches(path)
    assert time.perf_counter() - started < 0.5


# --- regexes ----------------------------------------------------------------------

REGEX_CASES = [
    (r"/v[0-9]+/.*", "/v1/x", True),
    (r"/v[0-9]+/.*", "/v1", False),
    (r"/admin", "/admin", True),
    (r"/admin", "/admin/x", False),  # fullmatch: a prefix match is not a match
    (r"/admin", "/public/admin", False),  # ... nor is a match in the middle
    (r"/public.*", "/public/x", True),
    (r"/a|/b", "/b", True),  # alternation is fully anchored too
    (r"/a|/b", "/a/x", False),
    (r"(?i)/admin(/.*)?", "/ADMIN/x", True),
    (r"/x$", "/x", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), REGEX_CASES)
def test_regex_matcher(pattern: str, path: str, expected: bool) -> None:
    assert compile_regex(pattern).matches(path) is expected


@pytest.mark.parametrize("pattern", ["", "(", "[a-", "*x"])
def test_bad_regex(pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_regex(pattern)


# --- methods ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        (None, None),
        (["POST"], frozenset({"POST"})),
        (["GET"], frozenset({"GET", "HEAD"})),  # RFC 9110 §9.3.2
        (["GET", "POST"], frozenset({"GET", "HEAD", "POST"})),
        (["HEAD"], frozenset({"HEAD"})),
    ],
)
def test_compile_methods(methods: list[str] | None, expected: frozenset[str] | None) -> None:
    assert compile_methods(methods) == expected
