"""Which records the dashboard shows, chosen once at start from the config.

Contract: `build_dashboard(config) -> Dashboard | None` — None when the dashboard is
off (`decision_log.dashboard.enabled: false`) or there is no admin listener to serve
it. `Dashboard.local` is the tap the decision log's writer feeds (`local` source);
`Dashboard.tap()` is what the admin handlers read: that local tap, or the shared feed
(`dashboard.feeds`) of the Redis stream or the file sink. `source: auto` takes the
Redis stream sink when there is one (every worker and replica), else, with several
workers, the first file sink (every worker appends to it), else this process's own
records. `scope` says in words what the numbers cover, for the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from authgate.config.schema import GatewayConfig, RedisStreamConfig, SinkEntry
from authgate.dashboard.feeds import FileSource, LineSource, SharedFeed, StreamSource
from authgate.dashboard.tap import DashboardTap
from authgate.decisionlog.pseudonyms import Pseudonymizer


@dataclass
class Dashboard:
    source: str  # local, redis_stream, file
    scope: str
    clients: int
    hosts: tuple[str, ...] = ()  # Host names allowed besides IP literals and localhost
    local: DashboardTap | None = None
    shared: SharedFeed | None = None

    def tap(self) -> DashboardTap:
        if self.shared is not None:
            return self.shared.tap()
        assert self.local is not None  # one of the two, by build_dashboard
        return self.local

    @property
    def ready(self) -> bool:
        return self.shared is None or self.shared.ready

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()


def build_dashboard(config: GatewayConfig) -> Dashboard | None:
    settings = config.decision_log.dashboard
    if not settings.enabled or not config.server.admin_listen:
        return None
    entries = [s for s in config.decision_log.sinks if isinstance(s, SinkEntry)]
    stream = next((s.redis_stream for s in entries if s.redis_stream is not None), None)
    file = next((s.file for s in entries if s.file is not None), None)
    source = settings.source
    hosts = tuple(h.lower().rstrip(".") for h in settings.hosts)
    if source == "auto":
        several = config.server.workers > 1
        source = "redis_stream" if stream else "file" if several and file else "local"
    if source == "redis_stream" and stream is not None:
        return Dashboard(
            source, f"every worker and replica (Redis stream {stream.key})", settings.clients, hosts,
            shared=SharedFeed(_stream(stream), recent=settings.recent),
        )
    if source == "file" and file is not None:
        path = file
        return Dashboard(
            source, f"every worker (file {path})", settings.clients, hosts,
            shared=SharedFeed(lambda: FileSource(path), recent=settings.recent),
        )
    workers = config.server.workers
    scope = "this process" if workers == 1 else f"the worker that answered (of {workers})"
    return Dashboard("local", scope, settings.clients, hosts, local=_local_tap(config))


def _stream(stream: RedisStreamConfig) -> Callable[[], LineSource]:
    return lambda: StreamSource(stream.url, stream.key)


def _local_tap(config: GatewayConfig) -> DashboardTap:
    """The local tap, hiding what any sink pseudonymizes (the strictest sink wins)."""
    log = config.decision_log
    fields = sorted({f for s in log.sinks if isinstance(s, SinkEntry) for f in s.pseudonymize})
    if not fields or log.pseudonym_key is None:
        return DashboardTap(recent=log.dashboard.recent)
    pseudonymizer = Pseudonymizer(log.pseudonym_key, fields)
    return DashboardTap(recent=log.dashboard.recent, pseudonym=pseudonymizer.pseudonym, fields=fields)
