"""Where a bearer route's RFC 9728 resource is, and where its metadata lives.

Contract:
- A bearer route's resource identifier (`resource_of`) is its `bearer.resource` as
  written, else the request's origin and the route's `match.path_prefix` without
  its trailing slash (`https://api.example.com/mcp`; the bare origin for a route
  without a prefix). It is what clients ask the provider for as RFC 8707 `resource`
  and what a token's `aud` then names: list it in `bearer.audiences`.
- Its metadata lives where RFC 9728 §3.1 puts it: `/.well-known/oauth-protected-resource`
  followed by the resource's path (`metadata_url`), and that URL is what a 401
  names as `resource_metadata` (§5.1). `route_for(routes, host, path)` finds the
  route a well-known request describes: a bearer route serving that host whose
  resource path is exactly the suffix (the first in file order), so the document's
  `resource` is always the identifier its URL was derived from (§3.3: a client
  compares them and drops a mismatch). None: not ours — the request is routed as
  any other (an upstream may publish its own).
Pure module: no I/O library.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from authgate.routing import PrefixMatcher, Route

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def is_metadata_path(path: str) -> bool:
    return path == WELL_KNOWN or path.startswith(WELL_KNOWN + "/")


def _path_of(route: Route) -> str:
    bearer = route.config.bearer
    if bearer is not None and bearer.resource is not None:
        return urlsplit(bearer.resource).path.rstrip("/")
    if isinstance(route.path, PrefixMatcher):
        return route.path.pattern.rstrip("/")
    return ""


def resource_of(route: Route, scheme: str, authority: str) -> str:
    bearer = route.config.bearer
    if bearer is not None and bearer.resource is not None:
        return bearer.resource
    return f"{scheme}://{authority}{_path_of(route)}"


def metadata_url(route: Route, scheme: str, authority: str) -> str:
    parts = urlsplit(resource_of(route, scheme, authority))
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN}{parts.path.rstrip('/')}"


def route_for(routes: Sequence[Route], host: str, path: str) -> Route | None:
    suffix = path[len(WELL_KNOWN) :].rstrip("/")
    for route in routes:
        bearer = route.config.bearer
        if bearer is None or "bearer" not in route.config.authenticate:
            continue
        if not any(matcher.matches(host) for matcher in route.hosts):
            continue
        if bearer.resource is not None and (urlsplit(bearer.resource).hostname or "").lower() != host:
            continue
        if _path_of(route) == suffix:
            return route
    return None
