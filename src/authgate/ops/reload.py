"""Hot reload: build the new config completely, then swap one reference.

Contract (STYLE.md lesson 7):

* `Reloader.reload(trigger)` builds a `Snapshot` from the file (in a thread: YAML
  and validation are slow enough to stall the loop), checks it for the worker
  count, builds its `ServerRuntime` and — when secrets, store, sessions, providers
  or routes changed — a new `AuthRuntime`. Only when every step succeeded does it
  replace `app[RUNTIME]` (and `app[AUTH]`), in one synchronous step together with
  `InFlight.advance()`. A request reads the runtime once at its start, so requests
  in flight finish on the config they started with.
* A file with problems changes nothing: every problem is logged with its file and
  line, and `authgate_config_reloads_total{result="rejected"}` counts it. A reload
  that applies logs one line naming what changed (`ops.changes`) and counts
  `{result="applied"}`.
* Reuse: the session store (and its refresh coordinator) is kept while store,
  sessions and secrets are unchanged — the memory store holds the sessions, so a new
  one would log everyone out; an OIDC client is kept while its provider's config is
  unchanged (it holds discovery and the JWKS cache). Whatever was replaced is closed
  once the requests of the old generation are done, or after
  `server.shutdown_timeout`, whichever comes first.
* One reload at a time: SIGHUP and the file watcher queue behind one lock.
* `watch(reloader)` polls the file's mtime, size and inode every second (no inotify
  dependency; a Kubernetes ConfigMap update swaps a symlink, which changes the inode
  `stat()` sees) and reloads once the file has stopped changing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import warnings
from collections.abc import Mapping
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from authgate.config.errors import ConfigError
from authgate.config.schema import GatewayConfig
from authgate.oidc.client import OIDCClient
from authgate.ops.changes import ConfigChanges, describe_changes
from authgate.ops.filewatch import ChangeDetector
from authgate.ops.inflight import InFlight
from authgate.ops.logs import configure_logging
from authgate.ops.metrics import Metrics
from authgate.ops.workers import build_checked_snapshot
from authgate.server.auth_state import AUTH, AuthRuntime, build_auth_runtime
from authgate.server.state import RUNTIME, ServerRuntime
from authgate.sessions.store import SessionStore

log = logging.getLogger("authgate.reload")

POLL_SECONDS = 1.0
SETTLE_SECONDS = 0.2  # an editor's save is several writes; wait for the last one
# Providers get their own pool and timeouts, apart from upstream traffic (as at start).
IDP_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


def _swap(app: web.Application, key: web.AppKey[Any], value: object) -> None:
    # aiohttp warns on any write to a started application's state, to catch setup
    # code that runs too late. This write is the one deliberate exception: a single
    # reference, replaced on the loop thread, that the handler reads once a request.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app[key] = value


class Reloader:
    """Reloads one application's config from its file."""

    def __init__(
        self,
        app: web.Application,
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
        # What the file looked like at the last attempt: the watcher does not reload a
        # change that SIGHUP already read.
        self.detector = ChangeDetector(app[RUNTIME].snapshot.source)
        # auth_context closes the store it made; a store a reload made is ours to close.
        started = app.get(AUTH)
        self._first_store = started.store if started is not None else None
        self._retiring: list[SessionStore] = []

    @property
    def path(self) -> str:
        return self._app[RUNTIME].snapshot.source

    @property
    def watching(self) -> bool:
        return self._app[RUNTIME].snapshot.config.server.watch_config

    async def reload(self, trigger: str) -> bool:
        """Apply the file as it is now; False (and the old config kept) if it has problems."""
        async with self._lock:
            self.detector.changed()  # this attempt reads the file as it is now
            current = self._app[RUNTIME]
            try:
                snapshot = await asyncio.to_thread(build_checked_snapshot, self.path)
                runtime = ServerRuntime.build(snapshot)
                auth, retired = self._next_auth(current.snapshot.config, snapshot.config)
            except ConfigError as error:
                self._rejected(trigger, [str(p) for p in error.problems])
                return False
            except Exception as error:  # keys, templates, files: the old config stays
                self._rejected(trigger, [f"{self.path}: {error}"])
                return False
            ended = self._inflight.advance()
            _swap(self._app, RUNTIME, runtime)
            if auth is not None:
                _swap(self._app, AUTH, auth)
            self._applied(trigger, describe_changes(current.snapshot.config, snapshot.config))
            # After the line above, so the reload that raises the level still says so.
            configure_logging(snapshot.config)
            if retired:
                self._spawn(self._retire(ended, retired, current.snapshot.config))
            return True

    async def close(self) -> None:
        """At shutdown, after the last request: stop background work, close our stores."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.wait(set(self._background))
        auth = self._app.get(AUTH)
        if auth is not None and auth.store is not self._first_store:
            self._retiring.append(auth.store)
        await self._close_stores()

    # --- building -----------------------------------------------------------------

    def _next_auth(
        self, old: GatewayConfig, new: GatewayConfig
    ) -> tuple[AuthRuntime | None, list[SessionStore]]:
        """The AuthRuntime for `new` (None: keep the current one) and what it retires."""
        if _auth_inputs(old) == _auth_inputs(new):
            return None, []
        current = self._app[AUTH]
        fresh = build_auth_runtime(new, self._http)
        keep_store = _store_inputs(old) == _store_inputs(new)
        retired = [fresh.store] if keep_store else [current.store]
        oidc = _reuse_clients(current.oidc, fresh.oidc)
        removed = {r.id for r in old.routes} - {r.id for r in new.routes}
        auth = dataclasses.replace(
            fresh,
            store=current.store if keep_store else fresh.store,
            refresher=current.refresher if keep_store else fresh.refresher,
            oidc=oidc,
            # A request in flight on a route this reload removes may still look up
            # that route's header templates and budget after the swap (handler reads
            # app[AUTH] per stage); keep them for it. Gone at the next reload.
            templates=_with_removed(current.templates, fresh.templates, removed),
            header_budgets=_with_removed(current.header_budgets, fresh.header_budgets, removed),
        )
        for client in oidc.values():
            if client.metadata is None and client not in current.oidc.values():
                self._spawn(_load_discovery(client))
        return auth, retired

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

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _retire(
        self, generation: int, stores: list[SessionStore], old: GatewayConfig
    ) -> None:
        # The store made at start is closed here too, so that it lets go of its
        # connections now; auth_context closes it again at shutdown (close is idempotent).
        mine = list(stores)
        self._retiring += mine
        bound = old.server.shutdown_timeout
        if not await self._inflight.finished(generation, bound):
            log.warning("closing the replaced session store with requests of the old config "
                        "still running after %.0fs", bound)
        for store in mine:
            self._retiring.remove(store)
            await _close_store(store)

    async def _close_stores(self) -> None:
        stores, self._retiring = self._retiring, []
        for store in stores:
            await _close_store(store)


async def _close_store(store: SessionStore) -> None:
    try:
        await store.close()
    except Exception:
        log.exception("closing a replaced session store failed")


def _auth_inputs(config: GatewayConfig) -> tuple[object, ...]:
    # Everything build_auth_runtime reads: routes and the top-level headers preset
    # for their header templates, the state folder for the default assertion key file.
    return (
        config.secrets, config.store, config.sessions, config.providers, config.routes,
        config.server.state_dir, config.headers,
    )


T = TypeVar("T")


def _with_removed(current: Mapping[str, T], fresh: Mapping[str, T], removed: set[str]) -> dict[str, T]:
    return {**{i: v for i, v in current.items() if i in removed}, **fresh}


def _store_inputs(config: GatewayConfig) -> tuple[object, ...]:
    return config.secrets, config.store, config.sessions


def _reuse_clients(
    current: Mapping[str, OIDCClient], fresh: Mapping[str, OIDCClient]
) -> dict[str, OIDCClient]:
    return {
        pid: current[pid] if pid in current and current[pid].config == client.config else client
        for pid, client in fresh.items()
    }


async def _load_discovery(client: OIDCClient) -> None:
    try:
        await client.load()
    except Exception as error:  # logged; logins and /readyz retry the discovery
        log.warning("provider %s: discovery failed after reload: %s", client.config.id, error)


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
