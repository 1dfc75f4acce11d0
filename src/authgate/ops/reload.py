"""Hot reload: build the new generation completely, then swap one reference.

Contract (STYLE.md lessons 7 and 14):

* `Reloader(app, snapshot, ...).start()` builds the first generation (`authgate.generation`) and
  puts it in `app[GENERATION]`; `Reloader.reload(trigger)` builds a `Snapshot` from
  the file (in a thread: YAML and validation are slow enough to stall the loop),
  checks it for the worker count, and builds the next `Generation` from it and the
  current one (`build_generation`: what is reused and what rebuilt is its table).
  Only when every step succeeded does it replace `app[GENERATION]`, in one
  synchronous step. A request pins the generation once at its start
  (`ops.inflight`), so requests in flight finish on the config they started with.
* A file with problems changes nothing: every problem is logged with its file and
  line, and `authgate_config_reloads_total{result="rejected"}` counts it. A reload
  that applies logs one line naming what changed (`ops.changes`) and counts
  `{result="applied"}`.
* What the new generation dropped (`generation.dropped`: a session store, a limiter,
  GeoIP readers, a history store) is closed once the requests of the old generation
  are done, or after `server.shutdown_timeout`, whichever comes first. Providers new
  in a generation load their discovery in the background; new GeoIP readers get
  their file watcher; a new state-event channel starts its subscription. `close()`
  at shutdown closes what the current generation holds.
* One reload at a time: SIGHUP and the file watcher queue behind one lock.
* `watch(reloader)` polls the file's mtime, size and inode every second (no inotify
  dependency; a Kubernetes ConfigMap update swaps a symlink, which changes the inode
  `stat()` sees) and reloads once the file has stopped changing.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import aiohttp
from aiohttp import web

from authgate.config.errors import ConfigError
from authgate.config.snapshot import Snapshot
from authgate.generation import (
    Closable,
    Generation,
    build_generation,
    close_resources,
    dropped,
    resources,
)
from authgate.ops.changes import ConfigChanges, describe_changes
from authgate.ops.filewatch import ChangeDetector
from authgate.ops.inflight import InFlight
from authgate.ops.logs import configure_logging
from authgate.ops.metrics import Metrics
from authgate.ops.workers import build_checked_snapshot
from authgate.oidc.client import OIDCClient
from authgate.server.state import GENERATION, LIVE_SESSIONS

log = logging.getLogger("authgate.reload")

POLL_SECONDS = 1.0
SETTLE_SECONDS = 0.2  # an editor's save is several writes; wait for the last one
# Calls to providers get their own pool and timeouts, apart from upstream traffic.
IDP_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


def _swap(app: web.Application, value: Generation) -> None:
    # aiohttp warns on any write to a started application's state, to catch setup
    # code that runs too late. This write is the one deliberate exception: a single
    # reference, replaced on the loop thread, that a request reads once at its start.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app[GENERATION] = value
    # Open WebSockets and streams are decided again under the new policies.
    if (follow := app.get(LIVE_SESSIONS)) is not None:
        follow.attach(value)


class Reloader:
    """Builds, swaps and retires the config generations of one application."""

    def __init__(
        self,
        app: web.Application,
        first: Snapshot,
        *,
        metrics: Metrics,
        inflight: InFlight,
        idp_http: aiohttp.ClientSession,
    ) -> None:
        self._app = app
        self._metrics = metrics
        self._inflight = inflight
        self._http = idp_http
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._geo_watches: dict[int, asyncio.Task[None]] = {}  # by id() of the readers
        self._retiring: list[Closable] = []  # dropped, waiting for their last request
        self._first = first
        # What the file looked like at the last attempt: the watcher does not reload a
        # change that SIGHUP already read.
        self.detector = ChangeDetector(first.source)

    def start(self) -> Generation:
        """Build and serve the first generation, from the snapshot the process started with."""
        generation = build_generation(self._first, None, idp_http=self._http)
        _swap(self._app, generation)
        self._begin(generation, None)
        return generation

    @property
    def current(self) -> Generation:
        return self._app[GENERATION]

    @property
    def path(self) -> str:
        return self.current.snapshot.source

    @property
    def watching(self) -> bool:
        return self.current.config.server.watch_config

    async def reload(self, trigger: str) -> bool:
        """Apply the file as it is now; False (and the old config kept) if it has problems."""
        async with self._lock:
            self.detector.changed()  # this attempt reads the file as it is now
            current = self.current
            try:
                snapshot = await asyncio.to_thread(build_checked_snapshot, self.path)
                new = build_generation(snapshot, current, idp_http=self._http)
            except ConfigError as error:
                self._rejected(trigger, [str(p) for p in error.problems])
                return False
            except Exception as error:  # keys, templates, files: the old config stays
                self._rejected(trigger, [f"{self.path}: {error}"])
                return False
            _swap(self._app, new)
            self._applied(trigger, describe_changes(current.config, snapshot.config))
            # After the line above, so the reload that raises the level still says so.
            configure_logging(snapshot.config)
            self._begin(new, current)
            self._spawn(self._retire(current, new))
            return True

    async def close(self) -> None:
        """At shutdown, after the last request: stop background work, close everything."""
        tasks = [*self._background, *self._geo_watches.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        held = resources(self.current.auth) if GENERATION in self._app else []
        closing, self._retiring = [*self._retiring, *held], []
        await close_resources(closing)

    # --- reporting ----------------------------------------------------------------

    def _rejected(self, trigger: str, problems: list[str]) -> None:
        self._metrics.reloaded(False)
        log.error(
            "config reload (%s) rejected, still serving the previous config; %d problem%s:\n%s",
            trigger, len(problems), "" if len(problems) == 1 else "s",
            "\n".join(f"  {p}" for p in problems),
        )

    def _applied(self, trigger: str, changes: ConfigChanges) -> None:
        self._metrics.reloaded(True)
        log.info("config reload (%s) applied from %s: %s", trigger, self.path, changes)

    # --- background ---------------------------------------------------------------

    def _begin(self, new: Generation, old: Generation | None) -> None:
        """Start what the resources new in `new` do in the background."""
        if old is None or new.auth.events is not old.auth.events:
            # Subscribes in the background: a store that is down must not keep the
            # gateway from starting (until subscribed, caches read through).
            self._spawn(new.auth.events.start())
        before = old.auth.oidc.values() if old is not None else ()
        for client in new.auth.oidc.values():
            if client not in before and client.metadata is None:
                # In the background: a provider that is down must not keep the gateway
                # from serving public routes.
                self._spawn(_load_discovery(client))
        geo, geoip = new.auth.geo, new.config.geoip
        if geo is not None and geoip is not None and id(geo) not in self._geo_watches:
            self._geo_watches[id(geo)] = asyncio.create_task(geo.watch(geoip.reload_interval))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _retire(self, old: Generation, new: Generation) -> None:
        mine = dropped(old, new)
        if not mine:
            return
        self._retiring += mine
        bound = old.config.server.shutdown_timeout
        if not await self._inflight.finished(old.number, bound):
            log.warning("closing what the previous config used with its requests still "
                        "running after %.0fs", bound)
        for item in mine:
            watch = self._geo_watches.pop(id(item), None)
            if watch is not None:
                watch.cancel()
        await close_resources(mine)
        # Only now: a shutdown that cancels this task mid-way still closes the rest.
        self._retiring = [item for item in self._retiring if all(item is not m for m in mine)]


async def _load_discovery(client: OIDCClient) -> None:
    try:
        await client.load()
    except Exception as error:  # logged; logins and /readyz retry the discovery
        log.warning("provider %s: discovery failed: %s", client.config.id, error)


# --- watching the file --------------------------------------------------------------


async def watch(
    reloader: Reloader, *, poll: float = POLL_SECONDS, settle: float = SETTLE_SECONDS
) -> None:
    """Reload whenever the config file changes; runs until cancelled."""
    detector = reloader.detector
    while True:
        await asyncio.sleep(poll)
        if not detector.changed() or not reloader.watching:
            continue
        while True:  # wait for the writer to finish
            await asyncio.sleep(settle)
            if not detector.changed():
                break
        await reloader.reload("file changed")
