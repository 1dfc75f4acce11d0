"""Routes no request can ever reach: an earlier route takes every request they match.

Contract: `shadowed_routes(routes)` returns `(later, earlier)` index pairs, in file
order, for each route that is fully shadowed by an earlier one: the first earlier
route that, for every request the later route matches, matches it too (the table
picks the first match in file order, `routing.table`). Only what is certain is
reported — a false warning teaches operators to ignore warnings — so the rule is
sufficient, never necessary:

* hosts: every host of the later route is answered by the earlier one (the same
  name; a name under the earlier one's `*.domain`; a `*.sub.domain` under its
  `*.domain`);
* methods: the earlier route allows every method, or a superset of the later one's
  (compiled sets, HEAD with GET);
* path: the earlier matcher covers the later one entirely. A prefix `P` (or a glob
  `P**`, which is the same starts-with) covers a prefix or glob whose literal start
  (up to the first `*` or `?`) begins with `P` when `P` ends in `/` or is `/`, and
  with `P/` or `P;` otherwise (the segment boundary: `/api` covers `/api/x`, never
  `/apix`). Equal matchers cover each other. A regex is judged only when it is equal
  to the earlier one, or when the earlier route matches every path (prefix `/`,
  glob `/**`): the language of two different regexes is not compared.
Pure module.
"""

from __future__ import annotations

from collections.abc import Sequence

from authgate.routing.matchers import (
    ExactHost,
    GlobMatcher,
    HostMatcher,
    PathMatcher,
    PrefixMatcher,
    RegexMatcher,
    WildcardHost,
)
from authgate.routing.table import Route


def shadowed_routes(routes: Sequence[Route]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for later, route in enumerate(routes):
        for earlier in range(later):
            if covers(routes[earlier], route):
                found.append((later, earlier))
                break
    return found


def covers(earlier: Route, later: Route) -> bool:
    """True when `earlier` matches every request `later` matches."""
    return (
        all(any(_host_covers(e, h) for e in earlier.hosts) for h in later.hosts)
        and _methods_cover(earlier.methods, later.methods)
        and path_covers(earlier.path, later.path)
    )


def _host_covers(earlier: HostMatcher, later: HostMatcher) -> bool:
    if isinstance(earlier, ExactHost):
        return later == earlier
    if isinstance(later, ExactHost):
        return earlier.matches(later.name)
    return later.suffix.endswith(earlier.suffix)  # *.a.example.com under *.example.com


def _methods_cover(earlier: frozenset[str] | None, later: frozenset[str] | None) -> bool:
    return earlier is None or (later is not None and later <= earlier)


def path_covers(earlier: PathMatcher, later: PathMatcher) -> bool:
    if earlier == later:
        return True
    start = _starts_with(earlier)
    if start is None:
        return False  # a regex, or a glob with wildcards before its end: not judged
    if start == "/":
        return True  # every normalized path starts with "/"
    literal = _literal_start(later)
    if literal is None:
        return False
    if start.endswith("/"):
        return literal.startswith(start)
    return (literal == start and _is_exact(later)) or literal.startswith((start + "/", start + ";"))


def _starts_with(matcher: PathMatcher) -> str | None:
    """`P` when the matcher is exactly "paths starting with P" (segment-aware for a
    prefix not ending in `/`), else None."""
    if isinstance(matcher, PrefixMatcher):
        return matcher.pattern
    if isinstance(matcher, GlobMatcher) and matcher.pattern.endswith("**"):
        head = matcher.pattern[:-2].rstrip("*")
        if not any(c in head for c in "*?") and head.endswith("/"):
            return head  # `P/**`: every path under `P/`, as the prefix `P/`
    return None


def _literal_start(matcher: PathMatcher) -> str | None:
    """What every path the matcher matches starts with (None for a regex)."""
    if isinstance(matcher, RegexMatcher):
        return None
    if isinstance(matcher, PrefixMatcher):
        return matcher.pattern
    cut = min((i for i, c in enumerate(matcher.pattern) if c in "*?"), default=len(matcher.pattern))
    return matcher.pattern[:cut]


def _is_exact(matcher: PathMatcher) -> bool:
    """A glob without wildcards: only its literal path (covered by the prefix itself)."""
    return isinstance(matcher, GlobMatcher) and not any(c in matcher.pattern for c in "*?")
