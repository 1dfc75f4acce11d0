"""The admin listener: `/metrics`, `/healthz`, `/readyz`, on their own address.

Contract: `build_admin_app(main)` returns an application that serves only these three
paths, the live decision dashboard under `/dashboard` (`ops.dashboard`), the
AuthZEN endpoints (`ops.authzen`, off unless `authzen:` is configured) and, when
entitlements are declared, the grants API under `/access/` (`ops.access_admin`,
token-protected), and reads the main application's state; it opens no client of
its own.

* `/healthz`: 200 while the process runs its event loop (liveness: restart me if not).
* `/readyz`: 200 when this process can serve logins: the session store answers a
  ping, every provider's discovery document is loaded, every registered extra check
  (`READINESS`, e.g. GeoIP databases loaded) passes, and the gateway is not draining.
  Otherwise 503. Both carry a JSON body naming each check and, for each failure, why.
  A provider whose discovery is missing gets a new attempt (at most one every
  `DISCOVERY_RETRY_SECONDS`): a provider that was down at start must not keep the
  gateway unready for ever, since no login would come to retry it.
* `/metrics`: the Prometheus text (`ops.metrics`), states sampled just before.

`sampling(app)` is the cleanup context that samples the states every second, so the
files of a worker that is not scraped stay current in multiprocess mode.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sized

from aiohttp import web

from authgate.oidc.client import OIDCClient
from authgate.ops.access_admin import add_access_routes
from authgate.ops.authzen import add_authzen_routes
from authgate.ops.dashboard import add_dashboard_routes
from authgate.ops.drain import DRAIN
from authgate.ops.inflight import IN_FLIGHT
from authgate.ops.metrics import CONTENT_TYPE, METRICS
from authgate.server.state import GENERATION
from authgate.server.state import DECISION_LOG
from authgate.sessions.cached_store import CachedSessionStore

CHECK_TIMEOUT = 2.0
DISCOVERY_RETRY_SECONDS = 5.0
SAMPLE_SECONDS = 1.0

# None when ready, else a short reason. Must not raise for a plain "not ready".
ReadinessCheck = Callable[[], Awaitable[str | None]]


class ReadinessChecks:
    """Extra readiness checks registered by other parts (GeoIP readers, ...)."""

    def __init__(self) -> None:
        self.checks: dict[str, ReadinessCheck] = {}

    def add(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check


READINESS = web.AppKey("readiness_checks", ReadinessChecks)
MAIN_APP = web.AppKey("main_app", web.Application)


def build_admin_app(main: web.Application, *, grants_state_dir: str | None = None) -> web.Application:
    """`grants_state_dir`: serve the grants API (`ops.access_admin`), its token kept
    in that state folder — given when the config declares entitlements."""
    admin = web.Application()
    admin[MAIN_APP] = main
    retries = DiscoveryRetries()
    admin[RETRIES] = retries

    async def stop_retries(app: web.Application) -> None:
        await retries.close()

    admin.on_cleanup.append(stop_retries)
    admin.router.add_get("/healthz", _healthz)
    admin.router.add_get("/readyz", _readyz)
    admin.router.add_get("/metrics", _metrics)
    add_dashboard_routes(admin, main)
    add_authzen_routes(admin, MAIN_APP)
    if grants_state_dir is not None:
        add_access_routes(admin, main, grants_state_dir)
    return admin


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    main = request.app[MAIN_APP]
    sample(main)
    # In multiprocess mode this reads every worker's file: keep it off the loop.
    body = await asyncio.to_thread(main[METRICS].render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def _readyz(request: web.Request) -> web.Response:
    results = await readiness(request.app[MAIN_APP], request.app[RETRIES])
    failed = sorted(name for name, reason in results.items() if reason is not None)
    body = {
        "ready": not failed,
        "failed": failed,
        "checks": {name: reason or "ok" for name, reason in sorted(results.items())},
    }
    return web.json_response(body, status=503 if failed else 200)


async def readiness(main: web.Application, retries: DiscoveryRetries) -> dict[str, str | None]:
    """Every check by name: None when it passed, else why not."""
    checks: dict[str, ReadinessCheck] = {"store": lambda: _store(main)}
    generation = main.get(GENERATION)
    for provider_id, client in (generation.auth.oidc.items() if generation is not None else ()):
        checks[f"provider:{provider_id}"] = retries.check(provider_id, client)
    checks.update(main[READINESS].checks)
    names = list(checks)
    results = await asyncio.gather(*(_bounded(checks[name]) for name in names))
    outcome: dict[str, str | None] = dict(zip(names, results, strict=True))
    if main[DRAIN].draining:
        outcome["draining"] = "shutting down: not taking new requests"
    return outcome


async def _bounded(check: ReadinessCheck) -> str | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await check()
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:.0f}s"
    except Exception as error:
        return f"{type(error).__name__}: {error}"


async def _store(main: web.Application) -> str | None:
    generation = main.get(GENERATION)
    if generation is None:
        return "not started"
    await generation.auth.store.ping()
    return None


class DiscoveryRetries:
    """Background discovery attempts for providers /readyz found unloaded."""

    def __init__(self, interval: float = DISCOVERY_RETRY_SECONDS) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._running: dict[str, asyncio.Task[object]] = {}

    def check(self, provider_id: str, client: OIDCClient) -> ReadinessCheck:
        async def check() -> str | None:
            if client.metadata is not None:
                return None
            self._retry(provider_id, client)
            return "discovery document not loaded"

        return check

    def _retry(self, provider_id: str, client: OIDCClient) -> None:
        now = time.monotonic()
        if provider_id in self._running or now - self._last.get(provider_id, -1e9) < self._interval:
            return
        self._last[provider_id] = now
        task: asyncio.Task[object] = asyncio.create_task(client.load())
        self._running[provider_id] = task
        task.add_done_callback(lambda t: self._done(provider_id, t))

    def _done(self, provider_id: str, task: asyncio.Task[object]) -> None:
        self._running.pop(provider_id, None)
        if not task.cancelled():
            task.exception()  # retrieved: the next /readyz reports the provider as it is

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)


RETRIES = web.AppKey("discovery_retries", DiscoveryRetries)


def sample(main: web.Application) -> None:
    """Pull states (drops, in flight, sessions held, the state-event channel, the
    session cache) into the metrics."""
    generation = main.get(GENERATION)
    store = generation.auth.store if generation is not None else None
    cache = store.cache if isinstance(store, CachedSessionStore) else None
    if isinstance(store, CachedSessionStore):
        store = store.store  # the store the gateway's cache sits in front of
    decision_log = main.get(DECISION_LOG)
    main[METRICS].sample(
        dropped=decision_log.dropped if decision_log is not None else 0,
        in_flight=main[IN_FLIGHT].count,
        events_connected=generation.auth.events.connected if generation is not None else False,
        cached_sessions=len(cache) if cache is not None else 0,
        # Only the memory store can count cheaply; counting Redis keys needs a SCAN.
        sessions=len(store) if isinstance(store, Sized) else None,
    )


async def sampling(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: sample every second while the app runs."""
    async def loop() -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            sample(app)

    task = asyncio.create_task(loop(), name="metrics-sampling")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    sample(app)  # the last values, before the process goes
