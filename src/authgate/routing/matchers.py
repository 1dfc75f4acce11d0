"""Compiled matchers for hosts, paths and methods: small frozen values with `matches()`.

Contract: every matcher is compiled once at config load and only ever sees values
already normalized by `authgate.routing.host` / `authgate.routing.normalize`; operator
patterns are put into that same form here (`normalize_pattern`), so a pattern and a
request that mean the same resource compare equal.

Hosts
    `app.example.com`   exactly that host (input is already lowercase, no port).
    `*.example.com`     any subdomain at ANY depth (`a.example.com`,
                        `a.b.example.com`) but NOT the apex `example.com`.
Paths (one kind per route)
    prefix `/api`       segment-aware: `/api`, `/api/`, `/api/x`, `/api;v=1` — never
                        `/apix`. A prefix ending in `/` is a plain starts-with, and
                        `/` matches every path. `;` counts as a boundary because
                        Tomcat-style upstreams read `/api;x` as `/api`.
    glob                `*` any run of characters except `/` (within one segment),
                        `**` any run including `/`, `?` one character except `/`;
                        everything else literal. `/static/**` matches `/static/`
                        and `/static/a/b.css` (not `/static`); `/users/*/profile`
                        matches `/users/42/profile` (not `/users/4/2/profile`).
    regex               `re.fullmatch` on the normalized path. Never `search` or
                        `match`: a partial match is the classic ACL bypass
                        (`^/admin` also matching `/admin/../public`-style tricks,
                        or `/public` matching `/public/../admin`).
Methods
    a frozenset (None = all). Methods are case-sensitive (RFC 9110 §9.1). A set
    with GET also admits HEAD (RFC 9110 §9.3.2): most frameworks run the GET
    handler for HEAD, so a HEAD that fell through to a later, weaker route would
    reach the same handler with a different policy.

Globs run in linear time: a literal glob-to-regex translation of `/*a*a*b`
backtracks for minutes on an 8 KB path (ReDoS). Stars are therefore committed to
their earliest match wherever that cannot lose a match (atomic groups); the only
non-atomic star is the last one of a glob without `**`, and each `**`-separated
piece is matched separately (the last one from the right). A `*` in a piece between
two `**` is accepted only after a `/` in that piece; otherwise matching it could
be quadratic, and the pattern is rejected (`unsupported-glob`).
Pure module: stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from authgate.routing.host import normalize_host_pattern
from authgate.routing.normalize import PathRejected, normalize_pattern


@dataclass(frozen=True, slots=True)
class ExactHost:
    """One host, compared to the normalized Host."""

    name: str

    def matches(self, host: str) -> bool:
        return host == self.name


@dataclass(frozen=True, slots=True)
class WildcardHost:
    """`*.example.com`: any subdomain at any depth, never the apex."""

    suffix: str  # ".example.com"

    def matches(self, host: str) -> bool:
        return host.endswith(self.suffix) and len(host) > len(self.suffix)


HostMatcher = ExactHost | WildcardHost


def compile_host(pattern: str) -> HostMatcher:
    """Compile a host pattern; raises `HostRejected` when it is not one."""
    canonical = normalize_host_pattern(pattern)
    if canonical.startswith("*."):
        return WildcardHost(canonical[1:])
    return ExactHost(canonical)


@dataclass(frozen=True, slots=True)
class PrefixMatcher:
    """Segment-aware path prefix (see the module docstring)."""

    kind: ClassVar[str] = "prefix"
    pattern: str

    def matches(self, path: str) -> bool:
        if not path.startswith(self.pattern):
            return False
        size = len(self.pattern)
        return self.pattern.endswith("/") or len(path) == size or path[size] in "/;"


@dataclass(frozen=True, slots=True)
class RegexMatcher:
    """An operator regex, matched against the whole normalized path."""

    kind: ClassVar[str] = "regex"
    pattern: str
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


@dataclass(frozen=True, slots=True)
class GlobMatcher:
    """A glob, split at `**` into pieces matched left to right (see module docstring)."""

    kind: ClassVar[str] = "glob"
    pattern: str  # canonical form
    head: re.Pattern[str]  # the part before the first `**` (or the whole glob)
    middle: tuple[re.Pattern[str], ...]  # parts between two `**`
    tail: re.Pattern[str] | None  # the part after the last `**`, reversed
    whole: bool  # no `**`: `head` must match the whole path

    def matches(self, path: str) -> bool:
        if self.whole:
            return self.head.fullmatch(path) is not None
        found = self.head.match(path)
        if found is None:
            return False
        end = found.end()
        for piece in self.middle:
            found = piece.search(path, end)
            if found is None:
                return False
            end = found.end()
        if self.tail is None:
            return True
        found = self.tail.match(path[::-1])
        return found is not None and len(path) - found.end() >= end


PathMatcher = PrefixMatcher | GlobMatcher | RegexMatcher


def compile_prefix(prefix: str) -> PrefixMatcher:
    """Compile a path prefix; raises `PathRejected` when it cannot match any path."""
    return PrefixMatcher(normalize_pattern(prefix, glob=False))


def compile_regex(pattern: str) -> RegexMatcher:
    """Compile an operator regex; raises ValueError when it is not one."""
    if not pattern:
        raise ValueError("an empty regex")
    try:
        return RegexMatcher(pattern, re.compile(pattern))
    except re.error as error:
        raise ValueError(f"not a regex: {error}") from None


def compile_glob(pattern: str) -> GlobMatcher:
    """Compile a glob; raises `PathRejected` when it cannot be matched safely."""
    canonical = normalize_pattern(pattern)
    pieces = _pieces(canonical)
    if len(pieces) == 1:
        head = re.compile(_piece_regex(pieces[0], anchored_end=True), re.DOTALL)
        return GlobMatcher(canonical, head, (), None, whole=True)
    for piece in pieces[1:-1]:
        _check_middle(piece)
    return GlobMatcher(
        canonical,
        head=_compile_piece(pieces[0]),
        middle=tuple(_compile_piece(piece) for piece in pieces[1:-1]),
        tail=_compile_piece(_reversed(pieces[-1])) if pieces[-1] else None,
        whole=False,
    )


def compile_methods(methods: Sequence[str] | None) -> frozenset[str] | None:
    """The allowed methods (None = all); GET brings HEAD along (module docstring)."""
    if methods is None:
        return None
    allowed = frozenset(methods)
    return allowed | {"HEAD"} if "GET" in allowed else allowed


_STAR_RUN = re.compile(r"(\*+)")
_STAR = "*"  # a one-star token; chunks never contain "*"


def _pieces(canonical: str) -> list[list[str]]:
    """Split at `**` runs into pieces of chunk and `*` tokens."""
    pieces: list[list[str]] = [[]]
    for index, part in enumerate(_STAR_RUN.split(canonical)):
        if index % 2 == 0:
            if part:
                pieces[-1].append(part)
        elif len(part) == 1:
            pieces[-1].append(_STAR)
        else:
            pieces.append([])
    return pieces


def _piece_regex(tokens: Sequence[str], *, anchored_end: bool) -> str:
    """Regex for one piece; every `*` commits to its earliest match but the last
    one of a piece that must end at the end of the path."""
    stars = [index for index, token in enumerate(tokens) if token == _STAR]
    last_star = stars[-1] if stars else -1
    out: list[str] = []
    for index, token in enumerate(tokens):
        if token != _STAR:
            if index == 0 or tokens[index - 1] != _STAR:
                out.append(_chunk(token))
            continue
        follow = _chunk(tokens[index + 1]) if index + 1 < len(tokens) else ""
        if not follow or (anchored_end and index == last_star):
            out.append("[^/]*" + follow)
        else:
            out.append(f"(?>[^/]*?{follow})")
    return "".join(out)


def _compile_piece(tokens: Sequence[str]) -> re.Pattern[str]:
    return re.compile(_piece_regex(tokens, anchored_end=False), re.DOTALL)


def _chunk(text: str) -> str:
    return "".join("[^/]" if char == "?" else re.escape(char) for char in text)


def _reversed(tokens: Sequence[str]) -> list[str]:
    return [token[::-1] for token in reversed(tokens)]


def _check_middle(tokens: Sequence[str]) -> None:
    # Searched at every start position: a `*` before any `/` would rescan the same
    # segment from each start, O(n^2) on a crafted path.
    if _STAR in tokens and "/" not in tokens[0]:
        raise PathRejected(
            "unsupported-glob",
            "between two '**', a '*' must come after a '/' (e.g. '/**/v*/**')",
        )
