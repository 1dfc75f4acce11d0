"""The RFC 8936 poller against the test transmitter: pages, acks, errors, backoff,
and one poll an interval between processes that share a store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from authgate.config.schema_auth import ProviderConfig
from authgate.events import MemoryEventChannel
from authgate.sessions.memory import MemorySessionStore
from authgate.sessions.model import Session, Tokens
from authgate.signals.poll import Poller, poll_round
from authgate.signals.receive import Receiver
from authgate.signals.transmitter import Transmitter as Receiving
from tests.sessions.personas import alice
from tests.testbed.transmitter import CAEP, POLL_TOKEN, Transmitter

IDP = "https://login.corp.example.com/realms/corp"
AUD = "https://gateway.test/"


def provider(tx: Transmitter, **signals: Any) -> ProviderConfig:
    block = {"transmitter": tx.issuer, "audience": AUD, "delivery": "poll", "poll_url": tx.poll_url,
             "poll_token": POLL_TOKEN, "poll_interval": "1s", **signals}  # fmt: skip
    return ProviderConfig.model_validate({"id": "corp", "issuer": IDP, "client_id": "gw", "signals": block})


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def store() -> MemorySessionStore:
    return MemorySessionStore(idle_timeout=3600)


def receiver(store: MemorySessionStore, records: list[Any]) -> Receiver:
    return Receiver(store, MemoryEventChannel().publish, records.append)


def revoke(tx: Transmitter, sub: str = "248289761001") -> str:
    sub_id = {"format": "iss_sub", "iss": IDP, "sub": sub}
    return tx.sign(tx.claims(CAEP + "session-revoked", sub_id=sub_id, aud=AUD))


async def test_a_round_takes_every_page_acks_what_it_did_and_refuses_forgeries(
    transmitter: Transmitter, store: MemorySessionStore, http: aiohttp.ClientSession
) -> None:
    session = Session.begin(alice(), Tokens(), now=time.time(), max_lifetime=3600)
    await store.create(session)
    good = [transmitter.queue(revoke(transmitter, f"u{i}")) for i in range(4)] + [transmitter.queue(revoke(transmitter))]
    forged = transmitter.queue(transmitter.rogue_sign(transmitter.claims(CAEP + "session-revoked", sub_id=None, aud=AUD)))
    records: list[Any] = []
    received = await poll_round(Receiving(provider(transmitter, poll_max_events=2), http), receiver(store, records), http)
    assert received == 5 and transmitter.queued == {}
    assert sorted(transmitter.acked) == sorted(good)
    assert transmitter.refused == {forged: {"err": "invalid_key", "description": "token-signature-invalid"}}
    assert transmitter.polls == 4  # three pages of two, then the acknowledge-only request
    assert await store.get(session.id, time.time()) is None
    assert len(records) == 5  # one decision record per event carried out


async def test_a_failing_transmitter_is_polled_less_and_less(
    transmitter: Transmitter, store: MemorySessionStore, http: aiohttp.ClientSession
) -> None:
    transmitter.poll_status = 503
    config = provider(transmitter, poll_interval="0.2s")
    poller = Poller(lambda: ({"corp": Receiving(config, http)}, receiver(store, [])), http)
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(2.0)
    task.cancel()
    calls = transmitter.poll_times
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    # 0.2 s, then doubling per failure (jittered 0.8-1.0): four or five polls in 2 s,
    # not the ten a steady interval would make.
    assert 2 <= len(calls) <= 5, calls
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:])), gaps


async def test_processes_on_one_store_poll_once_an_interval_between_them(
    transmitter: Transmitter, store: MemorySessionStore, http: aiohttp.ClientSession
) -> None:
    config = provider(transmitter, poll_interval="1s")
    pollers = [Poller(lambda: ({"corp": Receiving(config, http)}, receiver(store, [])), http) for _ in range(3)]
    tasks = [asyncio.create_task(p.run()) for p in pollers]
    await asyncio.sleep(2.5)
    for task in tasks:
        task.cancel()
    # Three pollers checking ten times a second: three polls in 2.5 s (one per 0.8 s
    # window), where each alone would have polled three times.
    assert 2 <= transmitter.polls <= 4, transmitter.polls
