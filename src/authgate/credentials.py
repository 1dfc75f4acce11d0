"""Duplicated credentials: a request whose credential is ambiguous is refused.

Contract: `duplicated_credential(headers, cookie_names)` names what is duplicated —
`"authorization"`, or one of `cookie_names` — or returns None. The caller refuses
such a request with 400 `duplicate-credentials` before any credential is validated,
on every route, public ones included.

* `Authorization` is a singleton field (RFC 9110 §11.6.2), so two of them — in any
  spelling of the name, `authorization` and `AUTHORIZATION` are one field — have no
  meaning. A gateway that validates the first while the upstream reads the last lets
  a token nobody checked through (Envoy CVE-2021-32777, Pomerium CVE-2021-39206).
* The gateway's own cookies (session and login state) count across every `Cookie`
  header, folded into one list as RFC 9113 §8.2.3 recombines cookie crumbs: the name
  more than once is cookie tossing — a sibling subdomain planting its own session next
  to the user's (RFC 6265bis §8.6) — and which copy wins would be up to the parser.

Pure module: headers are any `(name, value)` items, no aiohttp import.
"""

from __future__ import annotations

from collections.abc import Iterable

from authgate.mutate.cookies import cookie_values

AUTHORIZATION = "authorization"


def duplicated_credential(
    headers: Iterable[tuple[str, str]], cookie_names: Iterable[str]
) -> str | None:
    """The credential that appears more than once, or None."""
    authorizations = 0
    cookies: list[str] = []
    for name, value in headers:
        # Lower-casing is the whole fold here: `normalize_name` also maps `_` and `.`
        # to `-`, and neither name has a `-` for another spelling to fold onto.
        folded = name.lower()
        if folded == AUTHORIZATION:
            authorizations += 1
        elif folded == "cookie":
            cookies.append(value)
    if authorizations > 1:
        return AUTHORIZATION
    if not cookies:
        return None  # no Cookie field: nothing to count (the common public request)
    for cookie in cookie_names:
        if len(cookie_values(cookies, cookie)) > 1:
            return cookie
    return None
