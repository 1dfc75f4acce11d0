"""The session store interface: one Protocol, a memory and a Redis implementation.

Contract (every implementation, checked by one shared suite in `tests/sessions/`):

- `get(id, now)` answers None for an unknown session, and for one whose idle or
  absolute end has passed at `now` — and then deletes it. Expiry is computed from the
  stored times and the caller's clock; a Redis TTL is only a backstop for cleanup.
- `touch(id, now)` slides the idle end to `now + idle_timeout`. It may skip the write
  when the session was last seen less than `touch_interval` (60 s) ago, so a busy
  session costs one write a minute, not one per request: the idle end is then exact
  to within that interval. It never revives an ended session. Calling it on every
  request is cheap: right after a `get` the Redis store knows no write is due and
  skips the round trip.
- `replace_identity(session)` stores a re-verified session's identity, tokens and
  `verified_at` over the stored ones (a refresh or a userinfo re-verification,
  docs/continuous.md); its subject, provider, `sid` and times stay as stored.
- `replace_tokens`, `replace_identity` and `touch` never create a session that is
  not there.
- `delete_by_provider_sid` / `delete_by_subject` end every session of that provider's
  `sid` / `sub` (OIDC Back-Channel Logout 1.0 §2.7) and answer how many of them
  were still live.
- `delete_by_email` ends every session of that provider whose identity's email is
  that address (compared lowercased): for transmitters whose security events name
  users by email (RFC 9493 `email` subjects; docs/continuous.md).
- `change_identities(provider, index, value, change)` replaces the identity of every
  session listed under that `sub` / `sid` / `email` by `change(identity)` and
  answers how many live ones it matched (an assurance downgrade). `change` must keep
  `subject` and `email`: the indexes are not rewritten; a `change` that returns the
  identity it was given writes nothing (a way to read whose sessions an index
  lists). It never creates a session.
- `take_login_state` is an atomic one-time read: a login state can be redeemed once
  only, so a leaked or replayed callback URL cannot complete a login (RFC 6749
  §10.12, CSRF; the OAuth 2.0 Security BCP, RFC 9700 §4.7).
- `remember_once(key, ttl)` is True the first time a key is seen within `ttl`
  (the logout-token `jti` replay check, Back-Channel Logout §2.6).
- `lock(name, ttl)` excludes holders of the same name across every process sharing
  the store; it waits a bounded time (`wait`, by default `ttl`) then raises
  `LockTimeout`.
- Backend failures raise `StoreUnavailable` (callers answer 503); no backend
  exception type leaves a store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol

from authgate.config.schema_auth import SessionsConfig, StoreConfig
from authgate.identity import Identity
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.model import Session, Tokens

Clock = Callable[[], float]
SessionIndex = Literal["sub", "sid", "email"]
IdentityChange = Callable[[Identity], Identity]
TOUCH_INTERVAL = 60.0


class StoreUnavailable(Exception):
    """The store's backend cannot be reached or refused the command."""


class LockTimeout(Exception):
    """A named lock stayed held by someone else for longer than the wait allowed."""


class SessionStore(Protocol):
    async def create(self, session: Session) -> None: ...

    async def get(self, session_id: str, now: float) -> Session | None: ...

    async def touch(self, session_id: str, now: float) -> None: ...

    async def replace_tokens(self, session_id: str, tokens: Tokens) -> None: ...

    async def replace_identity(self, session: Session) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    async def delete_by_provider_sid(self, provider: str, sid: str) -> int: ...

    async def delete_by_subject(self, provider: str, subject: str) -> int: ...

    async def delete_by_email(self, provider: str, email: str) -> int: ...

    async def change_identities(
        self, provider: str, index: SessionIndex, value: str, change: IdentityChange
    ) -> int: ...

    async def put_login_state(self, key: str, data: bytes, ttl: float) -> None: ...

    async def take_login_state(self, key: str) -> bytes | None: ...

    async def remember_once(self, key: str, ttl: float) -> bool: ...

    def lock(
        self, name: str, ttl: float, *, wait: float | None = None
    ) -> AbstractAsyncContextManager[None]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def build_store(
    config: StoreConfig,
    sessions: SessionsConfig,
    clock: Clock = time.time,
    *,
    cipher: TokenCipher | None = None,
) -> SessionStore:
    """The configured store. It connects lazily: building opens no connection.

    The Redis store needs `cipher` (tokens are encrypted at rest); the memory store
    ignores it — the keys would sit in the same memory as the tokens.
    """
    if config.backend == "memory":
        from authgate.sessions.memory import (
            MemorySessionStore,  # (it imports this module)
        )

        return MemorySessionStore(idle_timeout=sessions.idle_timeout, clock=clock)
    if cipher is None:
        raise ValueError("a redis store needs secrets.cookie_secret")
    # Imported here so a memory-only gateway never loads the Redis client.
    from authgate.sessions.redis_client import redis_client
    from authgate.sessions.redis_store import RedisSessionStore

    return RedisSessionStore(
        redis_client(config),  # store.url, store.cluster or store.sentinel
        prefix=config.key_prefix,
        cipher=cipher,
        idle_timeout=sessions.idle_timeout,
        max_lifetime=sessions.max_lifetime,
        clock=clock,
        owns_client=True,
    )
