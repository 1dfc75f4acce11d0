"""Re-verify one session at its provider: refresh (or userinfo), re-validate, re-evaluate.

Contract: `reverify(session, client, auth, reverify_every=...)` runs, in the refresh
coordinator's single flight (`sessions.refresh`), whatever is due for `session`:

- with a refresh token: the refresh grant (RFC 6749 §6). A returned ID token is
  validated as at login and must be about the same login (OpenID Core §12.2,
  `oidc.tokens.validate_refreshed_id_token`); its claims, merged with userinfo when
  the provider has `userinfo: true`, replace the session's identity
  (`revalidate.reasserted`);
- without one: a userinfo call with the session's access token (Core §5.3), whose
  claims replace the profile claims (never `sub`: `merge_userinfo`) — and once that
  token has expired, userinfo refuses it (401): the session ends, as the provider can
  no longer vouch for it. A provider with no userinfo endpoint cannot re-verify a
  session without a refresh token: `reverify_every` does not apply to it (logged once).

It answers a `Reverified`: the session to decide with (None: it ended, and was
deleted from the store — the channel tells the other replicas) and the reason the
re-evaluation leaves on the request's decision record:

| what happened                                       | session   | reason                        |
|-----------------------------------------------------|-----------|-------------------------------|
| nothing was due                                     | unchanged | None                          |
| verified, identity unchanged                        | renewed   | None (counted as `unchanged`) |
| verified, groups or roles changed                   | renewed   | `groups-changed`              |
| verified, another claim changed                     | renewed   | `identity-changed`            |
| refreshed ID token invalid or about someone else    | ended     | `refresh-identity-mismatch`   |
| `invalid_grant`: the provider revoked the grant     | ended     | `session-revoked-by-provider` |
| userinfo refuses the access token (401/403)         | ended     | `reverify-failed`             |
| provider unreachable, within `outage_grace`         | unchanged | `reverify-deferred`           |
| provider unreachable, past `outage_grace`           | ended     | `reverify-failed`             |

The grace counts from the moment the session became due (`RefreshCoordinator.due_at`),
so an outage that begins while a token is still valid costs nobody a login. After an
outage answer, the provider is not asked again by this process for `OUTAGE_RETRY`
seconds: its due sessions are judged on the grace at once, so an outage neither makes
every request wait for the provider's timeout nor hammers a provider coming back.
`StoreUnavailable` propagates (the caller answers 503).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.continuous import tally
from authgate.continuous.revalidate import change, original_claims, reasserted
from authgate.decision import Reason
from authgate.oidc.client import OIDCClient, ProviderError, TokenResponse, merge_userinfo
from authgate.oidc.errors import TokenInvalid
from authgate.sessions.model import Session, Tokens
from authgate.sessions.refresh import RefreshCoordinator
from authgate.sessions.store import LockTimeout, SessionStore

log = logging.getLogger(__name__)

# Answers of userinfo that say the access token is refused, not that the provider is
# down (RFC 6750 §3.1 invalid_token: 401; insufficient_scope: 403).
_REFUSED = frozenset({401, 403})
OUTAGE_RETRY = 5.0
# A provider's client -> not asked again before (this process). By client, so a reload
# that changes the provider's config (a new client) asks again at once.
_down_until: weakref.WeakKeyDictionary[OIDCClient, float] = weakref.WeakKeyDictionary()
_unverifiable: weakref.WeakSet[OIDCClient] = weakref.WeakSet()  # warned about once


@dataclass(frozen=True, slots=True)
class Reverified:
    session: Session | None
    reason: Reason | None = None


class _Ended(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def reverify(
    session: Session,
    client: OIDCClient,
    coordinator: RefreshCoordinator,
    store: SessionStore,
    *,
    reverify_every: float | None,
    now: Callable[[], float] = time.time,
) -> Reverified:
    changed: list[Reason | None] = []
    if reverify_every is not None and not _can_reverify(session, client):
        reverify_every = None  # nothing to ask: only a token's end is checked (none here)

    async def renew(current: Session) -> Session:
        if _down_until.get(client, 0.0) > now():
            raise ProviderError("provider-unreachable", "an outage seen just now (not asked again)")
        renewed = await _renewed(current, client, now())
        _down_until.pop(client, None)
        changed.append(change(current.identity, renewed.identity))
        return renewed

    try:
        current = await coordinator.ensure_verified(
            session, renew, now, reverify_every=reverify_every
        )
    except _Ended as ended:
        return await _end(session, store, ended.reason)
    except (ProviderError, LockTimeout) as error:
        if isinstance(error, ProviderError) and _down_until.get(client, 0.0) <= now():
            _down_until[client] = now() + OUTAGE_RETRY  # not extended by its own refusals
        grace = client.config.outage_grace
        return await _outage(session, coordinator, store, reverify_every, grace, now(), error)
    if current is None:  # ended meanwhile (a logout): what `authenticate` calls it
        return Reverified(None, Reason.SESSION_EXPIRED)
    if changed:  # this flight renewed it (a waiter of another's flight sees no change)
        tally.count("refresh", changed[0] or tally.UNCHANGED)
        return Reverified(current, changed[0])
    return Reverified(current)


def _can_reverify(session: Session, client: OIDCClient) -> bool:
    """A refresh token, or a userinfo endpoint to ask (discovery not loaded yet: the
    call will tell). A provider with neither cannot re-verify a session: it is left
    to its lifetimes, and said once in the log (docs/continuous.md)."""
    if session.tokens.refresh_token or client.metadata is None:
        return True
    if client.metadata.userinfo_endpoint is not None:
        return True
    if client not in _unverifiable:
        _unverifiable.add(client)
        log.warning(
            "provider %s: reverify_every applies, but sessions without a refresh token "
            "cannot be re-verified (no userinfo endpoint): ask for offline_access",
            client.config.id,
        )
    return False


async def _renewed(current: Session, client: OIDCClient, now: float) -> Session:
    """The session as the provider sees it now; `_Ended` when it no longer vouches."""
    try:
        if current.tokens.refresh_token:
            answer = await client.refresh(current.tokens.refresh_token)
            tokens = _tokens(answer, current.tokens, now)
            id_claims = await _refreshed_id_claims(answer, current, client, now)
            userinfo = client.config.userinfo
        else:
            # No refresh token: userinfo is the only way to ask (Core §5.3).
            tokens, id_claims, userinfo = current.tokens, None, True
        claims: dict[str, Any] = dict(id_claims or current.identity.claims)
        if userinfo and tokens.access_token:
            claims = merge_userinfo(claims, await client.userinfo(tokens.access_token))
        identity = reasserted(current.identity, claims, client.config, id_claims)
    except TokenInvalid as invalid:
        log.warning(
            "provider %s: refreshed identity refused (%s): session ended",
            client.config.id, invalid,
        )
        raise _Ended(Reason.REFRESH_IDENTITY_MISMATCH) from None
    except ProviderError as error:
        raise _definitive(error, client.config.id) from None
    return dataclasses.replace(current, identity=identity, tokens=tokens, verified_at=now)


def _definitive(error: ProviderError, provider: str) -> Exception:
    """`_Ended` for the provider's refusals that end a session, else the outage."""
    if error.oauth_error == "invalid_grant":
        # RFC 6749 §5.2: the refresh token is revoked or expired — the grant is gone.
        log.info("provider %s revoked a session's grant (invalid_grant): session ended", provider)
        return _Ended(Reason.SESSION_REVOKED_BY_PROVIDER)
    if error.reason == "userinfo-sub-mismatch":  # Core §5.3.4: someone else's answer
        return _Ended(Reason.REFRESH_IDENTITY_MISMATCH)
    if error.reason == "userinfo-failed" and error.status in _REFUSED:
        log.info("provider %s refused a session's access token at userinfo: session ended", provider)
        return _Ended(Reason.REVERIFY_FAILED)
    return error


async def _refreshed_id_claims(
    answer: TokenResponse, current: Session, client: OIDCClient, now: float
) -> dict[str, Any] | None:
    if answer.id_token is None:  # Core §12.2: a refresh may return no ID token
        return None
    return await client.validate_refreshed_id_token(
        answer.id_token, original=original_claims(current), now=now
    )


def _tokens(answer: TokenResponse, old: Tokens, now: float) -> Tokens:
    return Tokens(
        access_token=answer.access_token,
        # RFC 6749 §6: a provider may or may not rotate the refresh token.
        refresh_token=answer.refresh_token or old.refresh_token,
        id_token=answer.id_token or old.id_token,
        access_expires_at=now + answer.expires_in if answer.expires_in else None,
    )


async def _outage(
    session: Session,
    coordinator: RefreshCoordinator,
    store: SessionStore,
    reverify_every: float | None,
    grace: float,
    now: float,
    error: Exception,
) -> Reverified:
    provider = session.identity.provider
    due_at = coordinator.due_at(session, reverify_every)
    if due_at is not None and now < due_at + grace:
        log.warning("provider %s: re-verification deferred (%s)", provider, error)
        tally.count("refresh", Reason.REVERIFY_DEFERRED)
        return Reverified(session, Reason.REVERIFY_DEFERRED)
    log.warning("provider %s: re-verification failed past the grace (%s): session ended", provider, error)
    return await _end(session, store, Reason.REVERIFY_FAILED)


async def _end(session: Session, store: SessionStore, reason: Reason) -> Reverified:
    tally.count("refresh", reason)
    await store.delete(session.id)
    return Reverified(None, reason)
