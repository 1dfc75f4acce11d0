"""`method` and `path`: what the request asks for.

Contract:
- `method: [GET]` holds for the listed methods, case-sensitively (RFC 9110 §9.1);
  GET brings HEAD along, as in route matching (`authgate.routing.compile_methods`):
  a deny on GET must also stop HEAD, which most frameworks serve with the GET
  handler.
- `path: [/admin/**]` holds when a glob matches the NORMALIZED path — the path
  routes match and the upstream receives (`authgate.routing.normalize_path`), so
  `//admin`, `/x/../admin` and `/%61dmin` are all `/admin`. Same glob syntax and
  linear-time matcher as routes (`authgate.routing.compile_glob`).
Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import Outcomes, Verdict
from authgate.routing import GlobMatcher

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput


@dataclass(frozen=True, slots=True)
class Method:
    path: str
    out: Outcomes
    methods: frozenset[str]

    def check(self, inp: PolicyInput) -> Verdict:
        return self.out.yes if inp.method in self.methods else self.out.no


@dataclass(frozen=True, slots=True)
class Path:
    path: str
    out: Outcomes
    globs: tuple[GlobMatcher, ...]

    def check(self, inp: PolicyInput) -> Verdict:
        request_path = inp.path
        for glob in self.globs:
            if glob.matches(request_path):
                return self.out.yes
        return self.out.no
