"""Poll delivery (RFC 8936): fetch queued SETs from the transmitter, acknowledge them.

Contract: one `Poller` task per gateway process polls every provider whose
`signals.delivery` is `poll` in the current config generation (read afresh each
round, so a reload adds, changes or drops pollers without a restart).

- One poll per `poll_interval` across all replicas: a replica polls only when it is
  the first to claim the interval in the shared store (`remember_once` of a key
  that lives for most of the interval) and holds the provider's poll lock; the
  others skip that round. Each replica checks ten times an interval, so a SET
  queued at the transmitter is received within one interval (plus the time to carry
  it out). Should two ever poll at once (a lock outliving its TTL), the `jti`
  replay check makes the second delivery an acknowledgement that changes nothing.
- A round (RFC 8936 §2.2-2.4): POST `{"maxEvents", "returnImmediately": true}` (and
  `ack` / `setErrs` for what the previous page brought) to `poll_url`, with
  `Authorization: Bearer <poll_token>` when configured; each SET goes through
  `signals.receive`. Acknowledged: SETs carried out, and redelivered ones (their
  `jti` already received). `setErrs`: SETs refused, with their RFC 8935 §2.4 code.
  Neither: a SET that could not be checked now (transmitter keys or store down) — it
  stays queued and comes again. While `moreAvailable`, the next page follows at
  once, at most `MAX_PAGES` a round; the round ends with an acknowledge-only request
  (`maxEvents: 0`). Bounded: each request by the provider's `timeout`, each answer
  by `MAX_ANSWER` bytes.
- A round that fails (transmitter unreachable, a non-200 answer, a bad document,
  the store down) is logged and the next one waits longer: the interval doubled per
  failure in a row, at most `MAX_BACKOFF`, with jitter; a success resets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from authgate.bounded_read import read_at_most
from authgate.oidc.errors import ProviderError, TokenInvalid
from authgate.request_id import new_request_id
from authgate.sessions.store import LockTimeout, SessionStore, StoreUnavailable
from authgate.signals.receive import Receiver, receive
from authgate.signals.records import Delivery
from authgate.signals.transmitter import Transmitter
from authgate.signals.verify import push_error

log = logging.getLogger(__name__)
MAX_PAGES = 10
MAX_ANSWER = 4 << 20
MAX_BACKOFF = 300.0
_CHECKS_PER_INTERVAL = 10

Pollers = Callable[[], tuple[Mapping[str, Transmitter], Receiver]]


class PollFailed(Exception):
    """The transmitter's poll endpoint did not give a usable answer."""


class Poller:
    def __init__(self, current: Pollers, http: aiohttp.ClientSession, clock: Callable[[], float] = time.monotonic) -> None:
        self._current = current  # the current generation's pollers and receiver
        self._http = http
        self._clock = clock
        self._next: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    async def run(self) -> None:
        while True:
            transmitters, receiver = self._current()
            polled = {k: t for k, t in transmitters.items() if t.config.delivery == "poll"}
            for provider, transmitter in polled.items():
                if self._clock() >= self._next.get(provider, 0.0):
                    await self._round(transmitter, receiver)
            waits = [t.config.poll_interval / _CHECKS_PER_INTERVAL for t in polled.values()]
            await asyncio.sleep(min(waits, default=1.0))

    async def _round(self, transmitter: Transmitter, receiver: Receiver) -> None:
        provider, config = transmitter.provider.id, transmitter.config
        check = config.poll_interval / _CHECKS_PER_INTERVAL
        try:
            if await _claim(receiver.store, transmitter):
                await self._locked_round(transmitter, receiver)
            self._failures.pop(provider, None)
            self._next[provider] = self._clock() + check
        except (PollFailed, ProviderError, StoreUnavailable, aiohttp.ClientError, TimeoutError) as error:
            self._back_off(provider, config.poll_interval, error)
        except Exception as error:  # a bug must not end polling for every provider
            log.exception("signals poll for %s failed inside the gateway", provider)
            self._back_off(provider, config.poll_interval, error)

    def _back_off(self, provider: str, interval: float, error: Exception) -> None:
        failures = self._failures.get(provider, 0) + 1
        self._failures[provider] = failures
        wait = min(interval * 2 ** (failures - 1), MAX_BACKOFF) * random.uniform(0.8, 1.0)
        log.warning("signals poll for %s failed (%d in a row, next in %.0fs): %s", provider, failures, wait, error)
        self._next[provider] = self._clock() + wait

    async def _locked_round(self, transmitter: Transmitter, receiver: Receiver) -> None:
        ttl = transmitter.provider.timeout * (MAX_PAGES + 1) + 10.0
        with contextlib.suppress(LockTimeout):  # another replica is polling: its round
            async with receiver.store.lock(f"signals-poll:{transmitter.provider.id}", ttl, wait=0.0):
                await poll_round(transmitter, receiver, self._http)


async def _claim(store: SessionStore, transmitter: Transmitter) -> bool:
    """Whether this replica is the first to claim this interval's poll."""
    config = transmitter.config
    window = config.poll_interval * 0.8  # the checks every tenth fill the rest
    return await store.remember_once(f"signals-poll-due:{transmitter.provider.id}", window)


async def poll_round(transmitter: Transmitter, receiver: Receiver, http: aiohttp.ClientSession) -> int:
    """One round (see the module contract); answers how many SETs it received."""
    config = transmitter.config
    url = str(config.poll_url)
    delivery = Delivery.polled(new_request_id(), url)
    acks: list[str] = []
    errors: dict[str, dict[str, str]] = {}
    received = 0
    for _ in range(MAX_PAGES):
        answer = await _post(http, transmitter, _request(config.poll_max_events, acks, errors))
        acks, errors = await _receive_all(_sets(answer), transmitter, receiver, delivery)
        received += len(acks)
        if answer.get("moreAvailable") is not True:
            break
    if acks or errors:
        await _post(http, transmitter, _request(0, acks, errors))  # §2.4: acknowledge only
    return received


def _request(max_events: int, acks: list[str], errors: dict[str, dict[str, str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"maxEvents": max_events, "returnImmediately": True}
    if acks:
        body["ack"] = acks
    if errors:
        body["setErrs"] = errors
    return body


async def _receive_all(
    sets: Mapping[str, str], transmitter: Transmitter, receiver: Receiver, delivery: Delivery
) -> tuple[list[str], dict[str, dict[str, str]]]:
    acks: list[str] = []
    errors: dict[str, dict[str, str]] = {}
    for jti, token in sets.items():
        try:
            await receive(token, transmitter, receiver, delivery)
        except TokenInvalid as invalid:
            if invalid.reason == "token-replayed":
                acks.append(jti)  # redelivered: carried out the first time
            else:
                log.info("polled SET %s from %s refused: %s", jti, transmitter.provider.id, invalid.reason)
                errors[jti] = {"err": push_error(invalid.reason), "description": invalid.reason}
            continue
        acks.append(jti)
    return acks, errors


async def _post(http: aiohttp.ClientSession, transmitter: Transmitter, body: dict[str, Any]) -> dict[str, Any]:
    config = transmitter.config
    headers = {"Accept": "application/json"}
    if config.poll_token is not None:
        headers["Authorization"] = f"Bearer {config.poll_token}"
    timeout = aiohttp.ClientTimeout(total=transmitter.provider.timeout)
    url = str(config.poll_url)
    async with http.post(url, json=body, headers=headers, timeout=timeout, allow_redirects=False) as response:
        data = await read_at_most(response.content, MAX_ANSWER)
        if response.status != 200:
            raise PollFailed(f"{url}: HTTP {response.status}")
    if len(data) > MAX_ANSWER:
        raise PollFailed(f"{url}: answer over {MAX_ANSWER} bytes")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise PollFailed(f"{url}: not JSON") from None
    if not isinstance(document, dict):
        raise PollFailed(f"{url}: not a JSON object")
    return document


def _sets(answer: Mapping[str, Any]) -> dict[str, str]:
    # RFC 8936 §2.5: `sets` maps each jti to its SET (absent or empty: none queued).
    sets = answer.get("sets", {})
    if not isinstance(sets, dict):
        raise PollFailed("`sets` is not an object")
    return {k: v for k, v in sets.items() if isinstance(k, str) and isinstance(v, str)}
