"""The RFC 9728 protected resource metadata document of a bearer route.

Contract: `document(route, resource, clients, scopes, mtls=...)` is the JSON (§2) for
the route `resource.identifier.route_for` found: `resource`; `authorization_servers`,
the issuers of the providers the route accepts tokens from (`bearer.providers`, else
all) as discovery names them (the configured issuer when discovery fails);
`scopes_supported`, the scopes its policy asks for (`policy.compile.allowed_scopes`);
`bearer_methods_supported: ["header"]` (the only place a token is read, RFC 6750
§2.1); `dpop_signing_alg_values_supported` and `dpop_bound_access_tokens_required`
(§2, RFC 9449 §5.1) unless `dpop: off`; `tls_client_certificate_bound_access_tokens`
(RFC 8705 §3.4) when the listener asks for client certificates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from authgate.oidc.client import OIDCClient, ProviderError
from authgate.routing import Route


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
