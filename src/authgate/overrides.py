"""URL and method override headers a route lets through: the request they describe.

Why: frameworks honour `X-HTTP-Method-Override: DELETE` on a POST or GET (Rails,
Symfony, Express' method-override) and `X-Original-URL: /admin` in place of the
request line (Symfony and IIS URL rewriting; CVE-2017-16855 class). The gateway strips
them all by default (`authgate.mutate.spoofed.OVERRIDES`); a route that needs one
lists it in `forward_overrides`, and then the policy must judge the request the
upstream will actually run, not the one on the request line.

Contract (pure):

* `overridden(facts, headers, opted)` returns the facts of the request the opted-in
  headers describe, or `facts` itself when none of them is present. Only the
  canonical spelling counts (case aside): other spellings are stripped, never read.
  A method becomes upper-case (as those frameworks do); a URL must be origin-form
  (`/path?query`) and is normalized exactly like a request line (`routing.normalize`).
* It raises `OverrideRejected` for a value that is not a method token or not a safe
  origin-form target, and for disagreeing values — the same header twice, or two
  opted-in headers of one kind (method or URL) with different values: which one an
  upstream reads is the upstream's business, so the gateway cannot know what it judges.
* `rewrite(headers, facts, opted)` sets each opted-in header present in `headers` to
  the evaluated value (`facts.method`, or `facts.path` plus its query), so what the
  upstream runs is byte for byte what was judged.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from authgate.facts import RequestFacts
from authgate.mutate.spoofed import METHOD_OVERRIDES, URL_OVERRIDES
from authgate.routing import PathRejected, check_query, normalize_path, split_target

if TYPE_CHECKING:
    from multidict import CIMultiDict, MultiMapping

# RFC 9110 §9.1: a method is a token; the bound keeps junk out of the decision log.
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
_METHOD_NAMES = frozenset(name.lower() for name in METHOD_OVERRIDES)
_URL_NAMES = frozenset(name.lower() for name in URL_OVERRIDES)


class OverrideRejected(ValueError):
    """Override headers that do not describe one safe request."""


def overridden(
    facts: RequestFacts, headers: MultiMapping[str], opted: Iterable[str]
) -> RequestFacts:
    """The facts the opted-in override headers describe (see the module contract)."""
    opted = [name.lower() for name in opted]
    method = _one_value(headers, [n for n in opted if n in _METHOD_NAMES])
    target = _one_value(headers, [n for n in opted if n in _URL_NAMES])
    if method is None and target is None:
        return facts
    if method is not None:
        if not _METHOD.fullmatch(method):
            raise OverrideRejected(f"not a method: {method[:40]!r}")
        facts = dataclasses.replace(facts, method=method.upper())
    if target is not None:
        path, query = _target(target)
        facts = dataclasses.replace(facts, raw_target=target, path=path, query=query)
    return facts


def rewrite(headers: CIMultiDict[str], facts: RequestFacts, opted: Iterable[str]) -> None:
    """Set every opted-in override header present to the value that was evaluated."""
    for name in opted:
        if name not in headers:
            continue
        if name.lower() in _METHOD_NAMES:
            headers[name] = facts.method
        else:
            headers[name] = f"{facts.path}?{facts.query}" if facts.query else facts.path


def _one_value(headers: MultiMapping[str], names: list[str]) -> str | None:
    values = {value.strip() for name in names for value in headers.getall(name, ())}
    if len(values) > 1:
        raise OverrideRejected(f"{', '.join(names)}: more than one value")
    return values.pop() if values else None


def _target(raw_target: str) -> tuple[str, str]:
    raw_path, query = split_target(raw_target)
    try:
        path = normalize_path(raw_path)  # refuses anything but origin-form too
        check_query(query)
    except PathRejected as rejected:
        raise OverrideRejected(f"not a safe target: {rejected}") from None
    return path, query
