"""The provider's discovery document (OpenID Connect Discovery 1.0), parsed and checked.

Contract: `parse_metadata(document, configured_issuer=...)` returns a frozen
`ProviderMetadata` or raises `ProviderError`:
- `provider-issuer-mismatch` when the document's `issuer` is not the configured one
  (Discovery §4.3: otherwise a document served at the configured URL could make us
  trust tokens of another issuer);
- `provider-bad-response` when a required member is missing or mistyped.
From then on `ProviderMetadata.issuer` — the document's exact string — is the issuer
every token `iss` and every RFC 9207 `iss` parameter is compared with, byte for byte.

Issuer comparison: exact, except that ONE trailing slash is ignored on both sides.
Why: the configured issuer is a pydantic `AnyHttpUrl`, which turns
`https://idp.example.com` into `https://idp.example.com/`, so the operator's spelling
is lost for bare origins — and providers differ (oidc-provider and Okta publish no
slash, Auth0 publishes one). Ignoring one trailing slash names the same resource on
the same origin, so it cannot let another issuer in; tokens are then held to the
document's exact spelling.
`foreign_hosts(metadata)` lists the endpoints on another host than the issuer's
(host and port compared, lowercase): allowed, but the client logs them at start.
Pure module: no aiohttp or jwt imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authgate.oidc.errors import ProviderError


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    # RFC 9207 §3: when true, authorization responses must carry `iss`.
    authorization_response_iss_parameter_supported: bool = False
    id_token_signing_alg_values_supported: tuple[str, ...] = ()
    code_challenge_methods_supported: tuple[str, ...] = ()
    # OpenID Connect Initiating User Registration 1.0 §4: `create` here means the
    # provider accepts prompt=create; without the member nothing may be assumed.
    prompt_values_supported: tuple[str, ...] = ()
    # RFC 9126 §5: where authorization requests are pushed, and whether the provider
    # takes them only that way.
    pushed_authorization_request_endpoint: str | None = None
    require_pushed_authorization_requests: bool = False
    introspection_endpoint: str | None = None  # RFC 8414 §2 / RFC 7662
    revocation_endpoint: str | None = None  # RFC 8414 §2 / RFC 7009


_ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
    "end_session_endpoint",
    "pushed_authorization_request_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
)


def foreign_hosts(metadata: ProviderMetadata) -> tuple[tuple[str, str], ...]:
    """(endpoint name, host) for each endpoint not on the issuer's host."""
    home = urlsplit(metadata.issuer).netloc.lower()
    found = ((name, getattr(metadata, name)) for name in _ENDPOINTS)
    return tuple(
        (name, host)
        for name, url in found
        if url is not None and (host := urlsplit(url).netloc.lower()) != home
    )


def discovery_url(issuer: str) -> str:
    """Discovery §4: strip a trailing `/` from the issuer, append the well-known path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def same_issuer(published: str, configured: str) -> bool:
    """Exact comparison modulo one trailing slash on each side (see module doc)."""
    return _drop_one_slash(published) == _drop_one_slash(configured)


def _drop_one_slash(value: str) -> str:
    return value.removesuffix("/")


def parse_metadata(document: Mapping[str, Any], *, configured_issuer: str) -> ProviderMetadata:
    issuer = document.get("issuer")
    # Discovery §3: an issuer is a URL without query or fragment.
    if not isinstance(issuer, str) or not _is_http_url(issuer) or "?" in issuer or "#" in issuer:
        raise ProviderError("provider-bad-response", "discovery: no valid `issuer`")
    if not same_issuer(issuer, configured_issuer):
        raise ProviderError(
            "provider-issuer-mismatch",
            f"discovery document names issuer {issuer!r}, configured {configured_issuer!r}",
        )
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint"),
        token_endpoint=_endpoint(document, "token_endpoint"),
        jwks_uri=_endpoint(document, "jwks_uri"),
        userinfo_endpoint=_optional_endpoint(document, "userinfo_endpoint"),
        end_session_endpoint=_optional_endpoint(document, "end_session_endpoint"),
        authorization_response_iss_parameter_supported=(
            document.get("authorization_response_iss_parameter_supported") is True
        ),
        id_token_signing_alg_values_supported=_strings(
            document, "id_token_signing_alg_values_supported"
        ),
        code_challenge_methods_supported=_strings(document, "code_challenge_methods_supported"),
        prompt_values_supported=_strings(document, "prompt_values_supported"),
        pushed_authorization_request_endpoint=_optional_endpoint(
            document, "pushed_authorization_request_endpoint"
        ),
        require_pushed_authorization_requests=(
            document.get("require_pushed_authorization_requests") is True
        ),
        introspection_endpoint=_optional_endpoint(document, "introspection_endpoint"),
        revocation_endpoint=_optional_endpoint(document, "revocation_endpoint"),
    )


def _endpoint(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not _is_http_url(value):
        raise ProviderError("provider-bad-response", f"discovery: no valid `{name}`")
    return value


def _optional_endpoint(document: Mapping[str, Any], name: str) -> str | None:
    return None if document.get(name) is None else _endpoint(document, name)


def _strings(document: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = document.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProviderError("provider-bad-response", f"discovery: `{name}` is not a string list")
    return tuple(value)


def _is_http_url(value: str) -> bool:
    split = urlsplit(value)
    return split.scheme in ("http", "https") and bool(split.netloc)
