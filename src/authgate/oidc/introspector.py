"""One provider's opaque-token checks: the cache and one call per token at a time.

Contract: `Introspector(config, introspect)` is built once per provider, with its
`OIDCClient` (kept across a reload while that provider's config is unchanged, so
cached answers survive it). `validate(token, issuer=..., audiences=..., now=...)`
returns the claims of a usable token or raises `TokenInvalid` (the checks of
`introspection.check_answer`); `ProviderError` from `introspect` — the HTTP call —
passes through and caches nothing. Answers are cached by `introspection.
IntrospectionCache`; concurrent requests with the same uncached token wait for one
call (a burst of an agent's requests is one call to the provider, not one each).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from authgate.config.schema_client import IntrospectionConfig
from authgate.oidc.introspection import IntrospectionCache, check_answer, token_key

Answer = dict[str, Any] | None  # the claims of an active token; None: not active


class Introspector:
    def __init__(
        self, config: IntrospectionConfig, introspect: Callable[[str], Awaitable[dict[str, Any]]],
        *, leeway: float,
    ) -> None:
        self.cache = IntrospectionCache(config)
        self._introspect = introspect
        self._leeway = leeway
        self._pending: dict[str, asyncio.Future[Answer]] = {}

    async def validate(
        self, token: str, *, issuer: str, audiences: Collection[str], now: float
    ) -> dict[str, Any]:
        key = token_key(token)
        found, claims = self.cache.get(key, now)
        if not found:
            claims = await self._once(key, token, now)
        return check_answer(
            claims or {"active": False}, issuer=issuer, audiences=audiences, now=now,
            leeway=self._leeway,
        )

    async def _once(self, key: str, token: str, now: float) -> Answer:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._ask_and_cache(key, token, now))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._done(key, done))
        # Shielded: a client that goes away does not cancel the others' answer.
        return await asyncio.shield(pending)

    def _done(self, key: str, done: asyncio.Future[Answer]) -> None:
        self._pending.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: every waiter that is still there got it

    async def _ask_and_cache(self, key: str, token: str, now: float) -> Answer:
        answer = await self._introspect(token)
        claims = answer if answer["active"] is True else None
        self.cache.put(key, claims, now)
        return claims
