"""One OpenID Provider's HTTP endpoints: discovery, JWKS, token, userinfo, end-session.

Contract: `OIDCClient(config, http)` is created once per provider (in the app's
cleanup context, which owns and closes `http`). Every call has an explicit timeout
(`providers[].timeout`, 10 s) and fails with `ProviderError`:
- `provider-timeout`, `provider-unreachable` — the transport;
- `provider-bad-response` — a status or body we cannot use (the body is never copied
  into the error: it may hold tokens or markup);
- `provider-issuer-mismatch` — discovery names another issuer (metadata.py);
- `token-exchange-failed` — the token endpoint refused (RFC 6749 §5.2), with the
  sanitized OAuth `error` code in `oauth_error` (`invalid_grant`: the code or refresh
  token is spent or revoked);
- `userinfo-failed`, `userinfo-sub-mismatch` — userinfo refused or not about our user.
Discovery is loaded lazily and cached (`load(refresh=True)` re-reads it); `issuer` is
the document's exact issuer once loaded, the configured one before. The first load
logs one WARNING when the document names endpoints on hosts other than the issuer's
(allowed: some providers serve keys from a CDN; worth an operator's look).
No call follows a redirect: a 3xx is `provider-bad-response`, logged with where it
pointed. A redirected discovery or JWKS fetch would let whoever controls the
redirect (an open redirect at the provider, a hijacked path) pick the keys we trust
— key material must come from the URL configured or published, never from another
origin; a redirected POST or an Authorization header would carry secrets elsewhere.
Client authentication at the provider: `client_auth.ClientAuth`, applied in one place
(`_post_authenticated`) to every call that needs it — token, refresh, PAR,
introspection, revocation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import jwt

from authgate.config.schema_auth import ProviderConfig
from authgate.oidc.client_auth import ClientAuth, basic_authorization
from authgate.oidc.errors import ProviderError
from authgate.oidc.introspection import IntrospectionCache, looks_like_jwt
from authgate.oidc.introspector import Introspector
from authgate.oidc.flow import sanitize_error_text
from authgate.oidc.jwks import JwksCache
from authgate.oidc.metadata import (
    ProviderMetadata,
    discovery_url,
    foreign_hosts,
    parse_metadata,
    same_issuer,
)
from authgate.oidc.tokens import (
    validate_access_token,
    validate_id_token,
    validate_logout_token,
    validate_refreshed_id_token,
)

__all__ = [
    "OIDCClient", "ProviderError", "TokenResponse", "basic_authorization", "merge_userinfo"
]

log = logging.getLogger(__name__)

# Provider answers are small JSON documents; a cap keeps a broken or hostile endpoint
# from filling memory.
_MAX_BODY = 1 << 20
# Claims only the signed ID token may state (Core §5.3.2: an unsigned userinfo answer
# cannot change who logged in, how, or when).
_ID_TOKEN_ONLY = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "sid",
        "at_hash",
        "c_hash",
        "jti",
    }
)


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful token endpoint answer (RFC 6749 §5.1, OIDC Core §3.1.3.3)."""

    access_token: str
    id_token: str | None  # always set by exchange_code; optional on refresh (Core §12.2)
    refresh_token: str | None
    expires_in: float | None
    token_type: str
    scope: str | None


class OIDCClient:
    def __init__(
        self,
        config: ProviderConfig,
        http: aiohttp.ClientSession,
        *,
        timeout: float | None = None,
        jwks_refetch_interval: float = 60.0,
    ) -> None:
        self.config = config
        self._http = http
        self._timeout = aiohttp.ClientTimeout(total=config.timeout if timeout is None else timeout)
        self._metadata: ProviderMetadata | None = None
        self._loading = asyncio.Lock()
        self._jwks = JwksCache(self._fetch_jwks, min_refetch_interval=jwks_refetch_interval)
        self._client_auth = ClientAuth(config)
        # Kept with the client: a reload that leaves this provider's config alone
        # keeps its cached answers (generation.kept_providers).
        self.introspector = Introspector(config.introspection, self.introspect, leeway=config.leeway)

    # ------------------------------------------------------------ discovery

    @property
    def configured_issuer(self) -> str:
        return str(self.config.issuer)

    @property
    def issuer(self) -> str:
        """The issuer tokens must name: the discovery document's exact string."""
        return self._metadata.issuer if self._metadata else self.configured_issuer

    @property
    def metadata(self) -> ProviderMetadata | None:
        """The discovery document, or None before the first successful `load()`."""
        return self._metadata

    @property
    def jwks(self) -> JwksCache:
        return self._jwks

    async def load(self, *, refresh: bool = False) -> ProviderMetadata:
        if self._metadata is not None and not refresh:
            return self._metadata
        async with self._loading:  # concurrent first logins share one discovery call
            if self._metadata is None or refresh:
                document = await self._get_json(discovery_url(self.configured_issuer))
                first = self._metadata is None
                self._metadata = parse_metadata(document, configured_issuer=self.configured_issuer)
                if first:
                    self._warn_foreign_hosts(self._metadata)
                    self._warn_signup_unsupported(self._metadata)
            return self._metadata

    def _warn_foreign_hosts(self, metadata: ProviderMetadata) -> None:
        hosts = foreign_hosts(metadata)
        if hosts:
            log.warning(
                "provider %s: discovery names endpoints on hosts other than the issuer's "
                "%s: %s",
                self.config.id,
                urlsplit(metadata.issuer).netloc,
                ", ".join(f"{name} on {host}" for name, host in hosts),
            )

    def _warn_signup_unsupported(self, metadata: ProviderMetadata) -> None:
        if self.config.signup and "create" not in metadata.prompt_values_supported:
            log.warning(
                "provider %s: signup is on, but its discovery document does not list "
                "`create` in prompt_values_supported: the chooser shows no \"Create "
                "account\" for it (OpenID Connect Initiating User Registration 1.0)",
                self.config.id,
            )

    async def _fetch_jwks(self) -> dict[str, Any]:
        return await self._get_json((await self.load()).jwks_uri)

    # ------------------------------------------------------------ token validation

    async def validate_id_token(self, token: str, *, nonce: str, now: float) -> dict[str, Any]:
        """`tokens.validate_id_token` with this provider's settings. Prefer these
        methods: they load discovery first, so `iss` is compared with the document's
        exact issuer (before `load()`, `issuer` is only the configured spelling)."""
        return await validate_id_token(
            token,
            self._jwks,
            issuer=(await self.load()).issuer,
            client_id=self.config.client_id,
            nonce=nonce,
            algorithms=self.config.algorithms,
            leeway=self.config.leeway,
            now=now,
        )

    async def validate_refreshed_id_token(
        self, token: str, *, original: Mapping[str, Any], now: float
    ) -> dict[str, Any]:
        """`tokens.validate_refreshed_id_token` (OIDC Core §12.2) with this provider's
        settings; `original` is the claims of the session's ID token."""
        return await validate_refreshed_id_token(
            token,
            self._jwks,
            issuer=(await self.load()).issuer,
            client_id=self.config.client_id,
            original=original,
            algorithms=self.config.algorithms,
            leeway=self.config.leeway,
            now=now,
        )

    async def validate_access_token(
        self, token: str, *, audiences: Collection[str], now: float
    ) -> dict[str, Any]:
        return await validate_access_token(
            token,
            self._jwks,
            issuer=(await self.load()).issuer,
            audiences=audiences,
            algorithms=self.config.algorithms,
            leeway=self.config.leeway,
            now=now,
        )

    async def validate_logout_token(self, token: str, *, now: float) -> dict[str, Any]:
        return await validate_logout_token(
            token,
            self._jwks,
            issuer=(await self.load()).issuer,
            client_id=self.config.client_id,
            algorithms=self.config.algorithms,
            leeway=self.config.leeway,
            now=now,
        )

    # ------------------------------------------------------------ token endpoint

    async def exchange_code(
        self, code: str, *, code_verifier: str, redirect_uri: str
    ) -> TokenResponse:
        """Authorization code -> tokens (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        answer = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )
        if answer.id_token is None:  # Core §3.1.3.3: an OpenID login returns one
            raise ProviderError("provider-bad-response", "token response without id_token")
        return answer

    async def refresh(self, refresh_token: str) -> TokenResponse:
        """Refresh token -> new tokens (RFC 6749 §6, OIDC Core §12)."""
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def _token_request(self, form: dict[str, str]) -> TokenResponse:
        endpoint = (await self.load()).token_endpoint
        status, body = await self._post_authenticated(endpoint, form)
        if status != 200:
            raise _token_error(status, body)
        return _token_response(_json_object(body))

    async def _post_authenticated(self, endpoint: str, form: dict[str, str]) -> tuple[int, bytes]:
        """POST `form` to one of the provider's endpoints as this client: the ONE place
        client credentials are added (`client_auth`)."""
        headers = {"Accept": "application/json"}
        self._client_auth.apply(form, headers, audience=(await self.load()).issuer)
        return await self._call("POST", endpoint, data=form, headers=headers)

    # ------------------------------------------------------------ PAR, introspection, revocation

    async def push_authorization_request(self, params: Mapping[str, str]) -> str:
        """RFC 9126 §2: push the authorization request's parameters; the `request_uri`
        the authorization endpoint then takes instead of them."""
        endpoint = (await self.load()).pushed_authorization_request_endpoint
        if endpoint is None:
            raise ProviderError("provider-bad-response", "the provider has no PAR endpoint")
        status, body = await self._post_authenticated(endpoint, dict(params))
        if status not in (200, 201):  # §2.2 says 201; some answer 200
            error = _token_error(status, body)
            log.warning("provider %s refused the pushed authorization request: %s %s",
                        self.config.id, error, error.oauth_error or "")
            raise ProviderError("provider-bad-response", f"PAR: HTTP {status}")
        request_uri = _json_object(body).get("request_uri")
        if not isinstance(request_uri, str) or not request_uri:
            raise ProviderError("provider-bad-response", "PAR answer without request_uri")
        return request_uri

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 §2: the provider's answer about `token` (`active` and its claims).
        Any answer but a JSON object with a boolean `active` is `provider-bad-response`."""
        endpoint = await self._introspection_endpoint()
        status, body = await self._post_authenticated(
            endpoint, {"token": token, "token_type_hint": "access_token"}
        )
        if status != 200:
            raise ProviderError("provider-bad-response", f"introspection: HTTP {status}")
        answer = _json_object(body)
        if not isinstance(answer.get("active"), bool):  # §2.2: REQUIRED, a boolean
            raise ProviderError("provider-bad-response", "introspection answer without active")
        return answer

    async def validate_opaque_token(
        self, token: str, *, audiences: Collection[str], now: float
    ) -> dict[str, Any]:
        """An opaque access token's claims through introspection (`introspector`:
        the cache, the checks); `TokenInvalid` when not usable here, `ProviderError`
        when the provider could not answer (nothing is cached then)."""
        issuer = (await self.load()).issuer
        return await self.introspector.validate(token, issuer=issuer, audiences=audiences, now=now)

    @property
    def introspection_cache(self) -> IntrospectionCache:
        return self.introspector.cache

    async def _introspection_endpoint(self) -> str:
        configured = self.config.introspection.endpoint
        if configured is not None:
            return str(configured)
        endpoint = (await self.load()).introspection_endpoint
        if endpoint is None:
            raise ProviderError("provider-bad-response", "the provider has no introspection endpoint")
        return endpoint

    async def revoke(self, token: str, *, hint: str = "refresh_token") -> None:
        """RFC 7009 §2.1: revoke `token` at the provider (200 also for an unknown one)."""
        endpoint = (await self.load()).revocation_endpoint
        if endpoint is None:
            raise ProviderError("provider-bad-response", "the provider has no revocation endpoint")
        status, _ = await self._post_authenticated(endpoint, {"token": token, "token_type_hint": hint})
        if status != 200:
            raise ProviderError("provider-bad-response", f"revocation: HTTP {status}")

    # ------------------------------------------------------------ userinfo, logout

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo claims (Core §5.3). Merge them with `merge_userinfo`, which
        checks that they are about the ID token's user."""
        endpoint = (await self.load()).userinfo_endpoint
        if endpoint is None:
            raise ProviderError("userinfo-failed", "the provider has no userinfo endpoint")
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        status, body = await self._call("GET", endpoint, headers=headers)
        if status != 200:
            raise ProviderError("userinfo-failed", f"HTTP {status}", status=status)
        # A signed (application/jwt) answer is not supported: it fails as non-JSON.
        claims = _json_object(body)
        if not isinstance(claims.get("sub"), str):
            raise ProviderError("provider-bad-response", "userinfo without sub")
        return claims

    def end_session_url(
        self,
        *,
        id_token_hint: str | None,
        post_logout_redirect_uri: str | None,
        state: str | None = None,
    ) -> str | None:
        """RP-Initiated Logout 1.0 §2 request URL, or None when the provider has no
        end-session endpoint (or discovery is not loaded yet: call `load()` first)."""
        endpoint = self._metadata.end_session_endpoint if self._metadata else None
        if endpoint is None:
            return None
        params = {
            "id_token_hint": id_token_hint,
            "client_id": self.config.client_id,  # lets the OP check the redirect URI
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "state": state,
        }
        return _with_query(endpoint, {k: v for k, v in params.items() if v is not None})

    # ------------------------------------------------------------ transport

    async def _get_json(self, url: str) -> dict[str, Any]:
        status, body = await self._call("GET", url, headers={"Accept": "application/json"})
        if status != 200:
            raise ProviderError("provider-bad-response", f"HTTP {status} from {url}")
        return _json_object(body)

    async def _call(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        try:
            async with self._http.request(
                method,
                url,
                data=data,
                headers=dict(headers),
                timeout=self._timeout,
                allow_redirects=False,  # never: see the module contract
            ) as response:
                if 300 <= response.status < 400:
                    raise _redirected(self.config.id, method, url, response)
                return response.status, await _read_capped(response)
        except TimeoutError:
            raise ProviderError("provider-timeout", f"{method} {url}") from None
        except aiohttp.ClientError as error:
            detail = f"{method} {url}: {type(error).__name__}"
            raise ProviderError("provider-unreachable", detail) from None


def _redirected(
    provider_id: str, method: str, url: str, response: aiohttp.ClientResponse
) -> ProviderError:
    # Only the target's origin is logged: its query could carry anything.
    target = urlsplit(response.headers.get("Location", ""))
    where = f"{target.scheme}://{target.netloc}" if target.netloc else "a relative URL"
    log.warning(
        "provider %s: %s %s answered HTTP %d redirecting to %s; redirects are not "
        "followed (configure the final URL)",
        provider_id, method, url, response.status, where,
    )
    return ProviderError(
        "provider-bad-response", f"HTTP {response.status} redirect from {url} not followed"
    )


def merge_userinfo(id_claims: Mapping[str, Any], userinfo: Mapping[str, Any]) -> dict[str, Any]:
    """ID token claims plus userinfo claims. Core §5.3.4: the userinfo `sub` MUST equal
    the ID token's, else the answer is about someone else (token substitution) and
    must not be used. Userinfo may add or refresh profile claims (email, groups...)
    but never the ID token's protocol claims (`_ID_TOKEN_ONLY`)."""
    if userinfo.get("sub") != id_claims.get("sub"):
        raise ProviderError("userinfo-sub-mismatch")
    merged = dict(id_claims)
    merged.update((k, v) for k, v in userinfo.items() if k not in _ID_TOKEN_ONLY)
    return merged


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > _MAX_BODY:
            raise ProviderError("provider-bad-response", "answer larger than 1 MiB")
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise ProviderError("provider-bad-response", "answer is not JSON") from None
    if not isinstance(document, dict):
        raise ProviderError("provider-bad-response", "answer is not a JSON object")
    return document


def _token_error(status: int, body: bytes) -> ProviderError:
    # RFC 6749 §5.2: a refusal is 400 (401 for client authentication) with an `error`
    # code. Only that code is kept, sanitized; descriptions may echo our input.
    if status in (400, 401):
        try:
            error = json.loads(body).get("error")
        except (ValueError, AttributeError, RecursionError):
            error = None
        if isinstance(error, str) and error:
            code = sanitize_error_text(error)[:64] or "unknown_error"
            return ProviderError("token-exchange-failed", f"HTTP {status}", oauth_error=code)
    return ProviderError("provider-bad-response", f"token endpoint: HTTP {status}")


def _token_response(document: Mapping[str, Any]) -> TokenResponse:
    access_token = document.get("access_token")
    token_type = document.get("token_type")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderError("provider-bad-response", "token response without access_token")
    # RFC 6749 §7.1 / RFC 6750: we can only use Bearer tokens (not DPoP-bound ones).
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProviderError("provider-bad-response", f"token_type {token_type!r}")
    return TokenResponse(
        access_token=access_token,
        id_token=_optional_str(document, "id_token"),
        refresh_token=_optional_str(document, "refresh_token"),
        expires_in=_expires_in(document.get("expires_in")),
        token_type=token_type,
        scope=_optional_str(document, "scope"),
    )


def _optional_str(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ProviderError("provider-bad-response", f"token response: bad {name}")
    return value


def _expires_in(value: Any) -> float | None:
    # A number of seconds; some providers (Azure AD v1) send it as a string.
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        return None
    return float(value)


def _with_query(endpoint: str, params: Mapping[str, str]) -> str:
    split = urlsplit(endpoint)
    query = [(k, v) for k, v in parse_qsl(split.query) if k not in params]
    return urlunsplit(split._replace(query=urlencode(query + list(params.items()))))


def bearer_provider(
    token: str, clients: Mapping[str, OIDCClient], allowed: Collection[str] | None = None
) -> tuple[OIDCClient, bool] | None:
    """Who checks a bearer token, and whether by introspection (True) or as a JWT.

    A JWS-shaped token goes to the provider its `iss` names (read unverified), as a
    JWT unless that provider's `access_tokens` is `opaque`; a JWT of an issuer we do
    not know is nobody's — it is never sent to an introspection endpoint, where it
    would hand one party's token to another. Any other token is opaque: it names no
    issuer, so it goes to the ONE provider of the route that takes opaque tokens
    (`opaque` or `auto`; config/references.py refuses routes with more than one)."""
    candidates = {p: c for p, c in clients.items() if allowed is None or p in allowed}
    if looks_like_jwt(token):
        client = provider_for_token(token, candidates)
        return None if client is None else (client, client.config.access_tokens == "opaque")
    opaque = [c for c in candidates.values() if c.config.access_tokens != "jwt"]
    return (opaque[0], True) if len(opaque) == 1 else None


def provider_for_token(
    token: str, clients: Mapping[str, OIDCClient], allowed: Collection[str] | None = None
) -> OIDCClient | None:
    """The provider whose issuer the token names — read unverified, only to choose
    whose keys validate it; the validation that follows checks `iss` for real."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    if not isinstance(issuer, str):
        return None
    for provider_id, client in clients.items():
        if (allowed is None or provider_id in allowed) and same_issuer(issuer, client.issuer):
            return client
    return None
