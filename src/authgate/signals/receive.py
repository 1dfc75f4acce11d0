"""Receive one SET: verify it, refuse a replay, carry out its events, record each.

Contract: `receive(token, transmitter, receiver, delivery)` is the one path a SET
takes, pushed or polled. It raises before anything changes — `TokenInvalid` (a bad
signature, issuer, audience, `iat`, claims; `token-replayed` for a `jti` this
transmitter already delivered within `max_age`), `ProviderError` (the transmitter's
metadata or keys could not be read), `StoreUnavailable` — or applies every event in
the SET (`signals.actions`) and submits one decision record per event to the
receiver's sink, returning what each did. The `jti` is remembered in the shared
store (`remember_once`, keyed by the transmitter's issuer), so a replay is refused
by every replica alike (RFC 8417 §2.2 `jti`; RFC 8936 §2.1 redelivery is the poll's
business: the poller acknowledges a redelivered `jti` without acting again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from authgate.oidc.errors import TokenInvalid
from authgate.sessions.store import SessionStore
from authgate.signals.actions import Applied, Publish, apply
from authgate.signals.records import Delivery, RecordSink, event_record
from authgate.signals.transmitter import Transmitter


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where the events of a SET take effect and leave their records."""

    store: SessionStore
    publish: Publish
    sink: RecordSink


async def receive(
    token: str, transmitter: Transmitter, receiver: Receiver, delivery: Delivery
) -> list[Applied]:
    claims = await transmitter.verify(token, time.time())
    config = transmitter.config
    key = f"set-jti:{(await transmitter.load()).issuer}:{claims['jti']}"
    # Remembered for as long as the SET could be accepted (its iat within max_age,
    # with the skew on both sides), so a replay is refused until it is too old.
    if not await receiver.store.remember_once(key, config.max_age + 2 * config.leeway):
        raise TokenInvalid("token-replayed", f"jti {claims['jti']!r} already received")
    provider = transmitter.provider.id
    done = []
    for index, event in enumerate(transmitter.events(claims)):
        applied = await apply(event, provider, receiver.store, receiver.publish)
        receiver.sink(event_record(applied, provider, delivery, index))
        done.append(applied)
    return done
