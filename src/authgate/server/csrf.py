"""Cross-site request checks for the gateway's own state-changing forms (logout).

Contract: `cross_site(headers, scheme=, authority=)` is True when the browser says the
request came from another origin than `scheme://authority` (the request's own,
validated host and port). It is the second check, next to the form's CSRF token
(`SessionKeys.verify_csrf_token`), which decides on its own when the browser says
nothing. Pure: stdlib and `authgate.origins` only.

- `Sec-Fetch-Site` (W3C Fetch Metadata), when sent, must be `same-origin`: the form
  is rendered on this very origin, so `same-site` (a sibling subdomain, which may be
  someone else's app), `cross-site` and `none` (typed or bookmarked, never a form
  POST) are refused.
- Otherwise `Origin` (RFC 6454 §7), when sent, must be this origin, compared as
  `authgate.origins` does (a default port, 80 or 443, equals no port). `Origin: null` says nothing: a browser sends it for
  a same-origin POST from a page with `Referrer-Policy: no-referrer` (Fetch §3.2,
  "serializing a request origin"), as the gateway's pages ask for — so it cannot be
  told from a sandboxed cross-site frame, and the token has to decide.
"""

from __future__ import annotations

from collections.abc import Mapping

from authgate.origins import parse_origin


def cross_site(headers: Mapping[str, str], *, scheme: str, authority: str) -> bool:
    """Whether the browser's own headers place this request on another origin."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.strip().lower() != "same-origin"
    origin = headers.get("Origin")
    if origin is None or origin.strip().lower() == "null":
        return False
    sent = parse_origin(origin)  # None for anything that is not an http(s) origin
    return sent is None or sent != parse_origin(f"{scheme}://{authority}")
