"""One provider's Shared Signals transmitter: its metadata, its keys, its SETs.

Contract: `Transmitter(provider, http)` is built per config generation for each
provider with a `signals` block (kept across reloads while that provider's config is
unchanged, as its OIDC client is) and does no I/O until used. `load()` reads the
transmitter's configuration metadata (SSF 1.0 §7: `/.well-known/ssf-configuration`,
or `signals.configuration_url`) once and caches it. Concurrent callers share one
fetch, and a failed one is answered from memory for `RETRY_AFTER` seconds: pushes
arriving while the transmitter is down (or forged ones, without `push_token`) cost
it one request per interval, not one each; after that the next caller tries again. The metadata's `issuer`
must be the configured one (modulo one trailing slash; SSF 1.0 §7.2 — a document
naming another issuer is a forgery or a mistake) and its `jwks_uri` an http(s) URL.
`verify(token, now)` is `signals.verify.validate_set` with the metadata's exact
issuer, its JWKS (cached, refetched on an unknown `kid`: `oidc.jwks`) and this
provider's settings; `events(claims)` the events it carries for this provider.
Errors: `ProviderError` (metadata or JWKS unreachable or bad), `TokenInvalid`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from authgate.config.schema_auth import ProviderConfig
from authgate.config.schema_signals import POLL_DELIVERY, PUSH_DELIVERY, SignalsConfig
from authgate.device.posture import http_jwks_fetch
from authgate.oidc.errors import ProviderError
from authgate.oidc.jwks import JwksCache, retrieve_exception
from authgate.oidc.metadata import same_issuer
from authgate.signals.events import SecurityEvent, events_of
from authgate.signals.verify import validate_set

log = logging.getLogger(__name__)
RETRY_AFTER = 10.0


@dataclass(frozen=True, slots=True)
class TransmitterMetadata:
    issuer: str
    jwks_uri: str
    delivery_methods: tuple[str, ...]


def parse_transmitter_metadata(document: Mapping[str, Any], *, configured: str) -> TransmitterMetadata:
    issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
    if not isinstance(issuer, str) or not _http_url(issuer):
        raise ProviderError("provider-bad-response", "ssf-configuration: no valid `issuer`")
    if not same_issuer(issuer, configured):
        raise ProviderError(
            "provider-issuer-mismatch",
            f"ssf-configuration names issuer {issuer!r}, configured {configured!r}",
        )
    if not isinstance(jwks_uri, str) or not _http_url(jwks_uri):
        raise ProviderError("provider-bad-response", "ssf-configuration: no valid `jwks_uri`")
    methods = document.get("delivery_methods_supported", [])
    if not isinstance(methods, list):
        methods = []
    return TransmitterMetadata(issuer, jwks_uri, tuple(m for m in methods if isinstance(m, str)))


def _http_url(value: str) -> bool:
    split = urlsplit(value)
    return split.scheme in ("http", "https") and bool(split.netloc)


class Transmitter:
    def __init__(self, provider: ProviderConfig, http: aiohttp.ClientSession) -> None:
        if provider.signals is None:
            raise ValueError(f"provider {provider.id} has no signals block")
        self.provider = provider
        self.config: SignalsConfig = provider.signals
        self._http = http
        self._metadata: TransmitterMetadata | None = None
        self._loading: asyncio.Future[None] | None = None
        self._failed: tuple[float, ProviderError] | None = None
        self._jwks = JwksCache(self._fetch_jwks)

    @property
    def audience(self) -> str:
        return self.config.audience or self.provider.client_id

    @property
    def issuers(self) -> tuple[str, ...]:
        """Whose `iss_sub` subjects name this provider's users."""
        return (str(self.provider.issuer), str(self.config.transmitter))

    async def load(self) -> TransmitterMetadata:
        if self._metadata is not None:
            return self._metadata
        if self._failed is not None and time.monotonic() - self._failed[0] < RETRY_AFTER:
            raise self._failed[1]
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._fetch_metadata())
            self._loading.add_done_callback(retrieve_exception)
        # shield: one caller giving up must not cancel the others' fetch.
        await asyncio.shield(self._loading)
        if self._metadata is None:  # the shared fetch failed
            assert self._failed is not None
            raise self._failed[1]
        return self._metadata

    async def _fetch_metadata(self) -> None:
        fetch = http_jwks_fetch(
            self._http, self.config.metadata_url, timeout=self.provider.timeout, what="ssf-configuration"
        )
        try:
            metadata = parse_transmitter_metadata(await fetch(), configured=str(self.config.transmitter))
        except ProviderError as error:
            self._failed = (time.monotonic(), error)
            return
        finally:
            self._loading = None
        self._warn_delivery(metadata)
        self._failed, self._metadata = None, metadata

    def _warn_delivery(self, metadata: TransmitterMetadata) -> None:
        wanted = PUSH_DELIVERY if self.config.delivery == "push" else POLL_DELIVERY
        if metadata.delivery_methods and wanted not in metadata.delivery_methods:
            log.warning(
                "provider %s: the transmitter's delivery_methods_supported does not list %s",
                self.provider.id, wanted,
            )  # fmt: skip

    async def _fetch_jwks(self) -> Mapping[str, Any]:
        uri = (await self.load()).jwks_uri
        return await http_jwks_fetch(self._http, uri, timeout=self.provider.timeout)()

    async def verify(self, token: str, now: float) -> dict[str, Any]:
        config = self.config
        return await validate_set(
            token,
            self._jwks,
            issuer=(await self.load()).issuer,
            audience=self.audience,
            algorithms=config.algorithms,
            leeway=config.leeway,
            max_age=config.max_age,
            now=now,
            require_typ=config.require_typ,
        )

    def events(self, claims: Mapping[str, Any]) -> list[SecurityEvent]:
        return events_of(claims, self.issuers)

