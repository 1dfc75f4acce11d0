"""Where a login leaves for the provider: a plain or a pushed authorization request.

Contract: `authorization_location(client, metadata, login, redirect_uri)` returns the
URL the browser is sent to. With RFC 9126 pushed authorization requests, the
parameters (state, nonce, PKCE challenge, redirect URI, scopes, step-up values) go
to the provider over the back channel, authenticated as the client (`client_auth`),
and the browser carries only `client_id` and the `request_uri` — so nothing of the
request can be read or changed in the browser, and the provider knows it came from
the client it names. `pushes(mode, metadata)` decides, by the provider's `par`:

- `off` — never (even where the provider would require it: what the operator said);
- `auto` (default) — where discovery lists `pushed_authorization_request_endpoint`;
- `required` — always; a provider without the endpoint is `provider-bad-response`
  (the operator asked for PAR: no silent fall-back to the front channel).
A provider that says `require_pushed_authorization_requests: true` is pushed to
under `auto` as well (it has the endpoint then, RFC 9126 §5).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from authgate.oidc.errors import ProviderError
from authgate.oidc.flow import (
    LoginState,
    authorization_params,
    plain_authorization_url,
    pushed_authorization_url,
)
from authgate.oidc.metadata import ProviderMetadata

if TYPE_CHECKING:
    from authgate.oidc.client import OIDCClient

log = logging.getLogger(__name__)


def pushes(mode: str, metadata: ProviderMetadata) -> bool:
    """Whether this login pushes its request (see the module doc)."""
    if mode == "off":
        return False
    if metadata.pushed_authorization_request_endpoint is not None:
        return True
    if mode == "required" or metadata.require_pushed_authorization_requests:
        raise ProviderError(
            "provider-bad-response",
            "par: pushed authorization requests are required, but discovery names no "
            "pushed_authorization_request_endpoint",
        )
    return False


async def authorization_location(
    client: OIDCClient, metadata: ProviderMetadata, login: LoginState, redirect_uri: str
) -> str:
    config = client.config
    params = authorization_params(
        client_id=config.client_id,
        redirect_uri=redirect_uri,
        scopes=config.scopes,
        login=login,
        extra_params=config.extra_auth_params,
    )
    if not pushes(config.par, metadata):
        return plain_authorization_url(metadata.authorization_endpoint, params)
    request_uri = await client.push_authorization_request(params)
    return pushed_authorization_url(
        metadata.authorization_endpoint, client_id=config.client_id, request_uri=request_uri
    )
