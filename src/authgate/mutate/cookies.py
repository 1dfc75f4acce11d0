"""Keep the gateway's own cookies away from upstreams.

Contract: `strip_cookie(headers, cookie_name, *more)` removes the named cookies — with
and without the `__Host-` / `__Secure-` prefixes (RFC 6265bis §4.1.3), whichever form
is passed — from every `Cookie` header in place, keeping every other cookie byte for
byte and in order. The remaining pairs are joined into one `Cookie` header with `"; "`
(RFC 6265 §5.4, and how RFC 9113 §8.2.3 says HTTP/2 cookie crumbs are recombined for
HTTP/1.1); the header is removed when nothing is left, and left exactly as sent when
it is one header holding none of the gateway's cookies. Several `Cookie` headers are
always folded into one: a user agent sends one (RFC 6265 §5.4), and an upstream that
reads only the first (aiohttp does) would see other cookies than the gateway did.

`cookie_values(values, name)` is every value of cookie `name` across all the given
`Cookie` header values, folded the same way, in order: the gateway reads its own
cookies with it, so a copy hidden in a second `Cookie` header is seen too.

Why: the upstream must never see the gateway's session id. An upstream that logs
cookies or is compromised could otherwise replay it and act as the user everywhere
the gateway session is valid.

Cookie names are case-sensitive (RFC 6265 §5.3), and pairs are split on `;` only: a
cookie-value cannot contain `;` even when quoted (RFC 6265 §4.1.1), so a quoted value
such as `theme="a,b"` passes through untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multidict import CIMultiDict

_PREFIXES = ("", "__Host-", "__Secure-")


def strip_cookie(headers: CIMultiDict[str], cookie_name: str, *more_names: str) -> None:
    """Remove the gateway's cookies from the `Cookie` header(s) of `headers`."""
    values = headers.getall("Cookie", [])
    if not values:
        return
    bases = {_unprefixed(name) for name in (cookie_name, *more_names)}
    names = {prefix + base for base in bases for prefix in _PREFIXES}
    pairs = [pair for value in values for pair in _pairs(value)]
    kept = [pair for pair in pairs if _name(pair) not in names]
    if len(kept) == len(pairs) and len(values) == 1:
        return  # one header, none of ours: leave it exactly as the client sent it
    headers.popall("Cookie", None)
    if kept:
        headers["Cookie"] = "; ".join(kept)


def cookie_values(values: Iterable[str], name: str) -> list[str]:
    """Every value of cookie `name` in the `Cookie` header values, in order."""
    pairs = (pair for value in values for pair in _pairs(value))
    return [_value(pair) for pair in pairs if _name(pair) == name]


def cookie_map(values: Iterable[str]) -> dict[str, str]:
    """Every cookie in the `Cookie` header values; a name's first value wins."""
    cookies: dict[str, str] = {}
    for pair in (pair for value in values for pair in _pairs(value)):
        cookies.setdefault(_name(pair), _value(pair))
    return cookies


def _unprefixed(name: str) -> str:
    # `__Host-authgate` and `authgate` name the same gateway cookie: strip every variant
    # whichever one the caller passes.
    for prefix in _PREFIXES[1:]:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _pairs(value: str) -> list[str]:
    return [pair.strip() for pair in value.split(";") if pair.strip()]


def _name(pair: str) -> str:
    return pair.partition("=")[0].strip()


def _value(pair: str) -> str:
    value = pair.partition("=")[2].strip()
    # RFC 6265 §4.1.1: a cookie-value may be in double quotes, which are not part of it.
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
