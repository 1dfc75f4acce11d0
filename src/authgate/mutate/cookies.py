"""Keep the gateway's own cookies away from upstreams.

Contract: `strip_cookie(headers, cookie_name, *more)` removes the named cookies — with
and without the `__Host-` / `__Secure-` prefixes (RFC 6265bis §4.1.3), whichever form
is passed — from every `Cookie` header in place, keeping every other cookie byte for
byte and in order. The remaining pairs are joined into one `Cookie` header with `"; "`
(RFC 6265 §5.4, and how RFC 9113 §8.2.3 says HTTP/2 cookie crumbs are recombined for
HTTP/1.1); the header is removed when nothing is left, and left exactly as sent when
none of the gateway's cookies is in it.

Why: the upstream must never see the gateway's session id. An upstream that logs
cookies or is compromised could otherwise replay it and act as the user everywhere
the gateway session is valid.

Cookie names are case-sensitive (RFC 6265 §5.3), and pairs are split on `;` only: a
cookie-value cannot contain `;` even when quoted (RFC 6265 §4.1.1), so a quoted value
such as `theme="a,b"` passes through untouched.
"""

from __future__ import annotations

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
    if len(kept) == len(pairs):
        return  # none of ours: leave the header exactly as the client sent it
    headers.popall("Cookie", None)
    if kept:
        headers["Cookie"] = "; ".join(kept)


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
