"""RFC 9728 protected resource metadata for the routes that take bearer tokens.

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
- `document(...)` is the JSON (§2): `resource`; `authorization_servers`, the issuers
  of the providers the route accepts tokens from (`bearer.providers`, else all)
  as discovery names them; `scopes_supported`, the scopes its policy asks for
  (`policy.compile.allowed_scopes`); `bearer_methods_supported: ["header"]` (the
  only place a token is read, RFC 6750 §2.1); `dpop_signing_alg_values_supported`
  and `dpop_bound_access_tokens_required` (§2, RFC 9449 §5.1) unless `dpop: off`;
  `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4) when the listener
  asks for client certificates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from authgate.oidc.client import OIDCClient, ProviderError
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


async def document(
    route: Route,
    resource: str,
    clients: Mapping[str, OIDCClient],
    scopes: Sequence[str],
    *,
    mtls: bool,
) -> dict[str, Any]:
    bearer = route.config.bearer
    assert bearer is not None  # route_for answers bearer routes only
    body: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": await _issuers(clients, bearer.providers),
        "bearer_methods_supported": ["header"],
    }
    if scopes:
        body["scopes_supported"] = list(scopes)
    if bearer.dpop != "off":
        body["dpop_signing_alg_values_supported"] = list(bearer.dpop_algorithms)
        body["dpop_bound_access_tokens_required"] = bearer.dpop == "required"
    if mtls:
        body["tls_client_certificate_bound_access_tokens"] = True
    return body


async def _issuers(clients: Mapping[str, OIDCClient], accepted: Sequence[str] | None) -> list[str]:
    issuers: list[str] = []
    for provider_id, client in clients.items():
        if accepted is not None and provider_id not in accepted:
            continue
        try:
            # The discovery document's exact string: a client builds the AS metadata
            # URL from it (RFC 8414 §3.1) and compares it with `iss` (RFC 9207).
            issuers.append((await client.load()).issuer)
        except ProviderError:
            issuers.append(client.configured_issuer.rstrip("/"))
    return issuers
