"""Typed schema of the operator's YAML file (pydantic v2).

Contract: validation is offline and pure — no network, no file reads except the
`*_file` secrets resolved earlier by the loader. Unknown keys are errors
(`extra="forbid"`) so a typo never silently disables a guard. Durations are written
as `250ms`, `30s`, `5m`, `8h`, `7d` and become seconds (float).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, Field, field_validator, model_validator

from authgate.config.schema_access import AccessConfig, Entitlements
from authgate.config.schema_adaptive import (
    DevicesConfig,
    GeoConfig,
    RiskHistoryConfig,
    RouteAdaptiveFields,
)
from authgate.config.schema_authzen import AuthzenConfig
from authgate.config.schema_auth import (
    ProviderConfig,
    RouteAuthFields,
    SecretsConfig,
    SessionsConfig,
    StoreConfig,
    StrongSecret,
)
from authgate.config.paths import ConfigPath
from authgate.config.schema_dashboard import DashboardConfig
from authgate.config.schema_headers import GatewayHeaders, RouteHeaderFields, StripEntries
from authgate.config.schema_pages import PagesConfig
from authgate.config.schema_limits import LimitsConfig, RouteLimitFields
from authgate.config.schema_observability import ObservabilityConfig
from authgate.config.schema_listener import RouteBodyFields, ServerListenerFields
from authgate.config.schema_policy import RoutePolicyFields
from authgate.config.schema_types import Duration, Strict
from authgate.config.schema_websocket import RouteWebSocketFields


def _parse_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a listen address: {value!r} (write host:port, e.g. 0.0.0.0:8080)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9.-]+", host):
                raise ValueError(f"not a host: {host!r}") from None
    return value


ListenAddress = Annotated[str, AfterValidator(_parse_listen)]
DEFAULT_STATE_DIR = "/var/lib/authgate"


class TlsConfig(Strict):
    cert: ConfigPath
    key: ConfigPath


class UpstreamTimeouts(Strict):
    connect: Duration = 5.0
    read: Duration = 60.0
    total: Duration | None = None


class ServerConfig(ServerListenerFields):
    listen: ListenAddress = "127.0.0.1:8080"
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Who speaks HTTP/1.1 on `listen` for proxied requests: the gateway's own data
    # plane (httptools/llhttp on the event loop's transports, `authgate.dataplane`,
    # docs/dataplane.md) or aiohttp's server. The gateway's endpoints and WebSockets
    # are aiohttp's either way, on the same port.
    data_plane: Literal["native", "aiohttp"] = "native"
    trusted_proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = Field(
        default_factory=list
    )
    tls: TlsConfig | None = None
    upstream_timeouts: UpstreamTimeouts = Field(default_factory=UpstreamTimeouts)
    upstream_pool_size: int = Field(default=256, ge=1)
    upstream_pool_size_per_host: int = Field(default=64, ge=0)
    shutdown_timeout: Duration = 15.0
    # A folder whose error.html / denied.html / chooser.html / logged_out.html replace
    # the packaged pages, file by file.
    templates_dir: ConfigPath | None = None
    # /metrics, /healthz and /readyz on their own address, never on a routed host.
    # Off unless given: a fixed default port would collide between two gateways on
    # one host (see docs/operations.md).
    admin_listen: ListenAddress | None = None
    # Processes serving `listen` (SO_REUSEPORT). More than one needs the Redis store.
    workers: int = Field(default=1, ge=1, le=256)
    # Reload when the file changes (polled every second); SIGHUP always reloads.
    watch_config: bool = True
    # Where the gateway keeps what it writes itself (the generated assertion key
    # file): created 0700 when missing; never the working directory.
    state_dir: ConfigPath = DEFAULT_STATE_DIR
    # More identity headers (names, or prefixes ending in `*`) to strip from clients.
    strip_headers: StripEntries = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _strict_networks(cls, value: object) -> object:
        # ip_network(strict=True): "10.0.0.1/8" is a typo for 10.0.0.0/8, not a host.
        if isinstance(value, list):
            return [ipaddress.ip_network(str(item), strict=True) for item in value]
        return value


# Record fields a sink may pseudonymize with a keyed hash (GDPR art. 4(5)): the
# client's address and the user (an email or a username).
Pseudonymized = Literal["client_ip", "user"]


class RedisStreamConfig(Strict):
    url: str = Field(pattern=r"^(redis|rediss|unix)://")
    key: str = "authgate:decisions"
    maxlen: int = Field(default=100_000, ge=1)  # entries kept, the oldest evicted first


class ChainConfig(Strict):
    """A tamper-evident file log (decisionlog/chain.py): chained lines, signed checkpoints."""

    # A signed checkpoint at least this often while lines arrive (and when idle).
    checkpoint_every: Duration = Field(default=60.0, gt=0)
    # ES256 key bundle; default `<server.state_dir>/audit-signing-keys.pem`, created
    # on first start. Its public JWKS is written beside it for auditors.
    signing_keys: ConfigPath | None = None


class SinkEntry(Strict):
    """A sink with options: exactly one of `stdout: true`, `file:`, `redis_stream:`."""

    stdout: Literal[True] | None = None
    file: ConfigPath | None = None
    redis_stream: RedisStreamConfig | None = None
    pseudonymize: list[Pseudonymized] = Field(default_factory=list)
    # `chain: true` or `chain: {checkpoint_every: 5m}`: file sinks only.
    chain: ChainConfig | None = None

    @field_validator("chain", mode="before")
    @classmethod
    def _chain_shorthand(cls, value: object) -> object:
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @model_validator(mode="after")
    def _one_target(self) -> SinkEntry:
        given = [k for k in ("stdout", "file", "redis_stream") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of stdout, file, redis_stream (got {given or 'none'})")
        # Only a file can be verified later as a whole, line by line; a stream sink
        # (Redis, stdout to a shipper) has its own retention and ordering.
        if self.chain is not None and self.file is None:
            raise ValueError("chain: applies to file sinks only")
        return self


Sink = Literal["stdout"] | SinkEntry


def _default_sinks() -> list[Sink]:
    return ["stdout"]


class DecisionLogConfig(Strict):
    sinks: list[Sink] = Field(default_factory=_default_sinks)
    queue_size: int = Field(default=10_000, ge=1)
    # Key of the keyed hash (HMAC-SHA256) that pseudonymizes fields; the same key
    # gives the same pseudonym, so records of one person still line up.
    pseudonym_key: StrongSecret | None = None
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)

    @model_validator(mode="after")
    def _key_when_pseudonymizing(self) -> DecisionLogConfig:
        wanted = any(not isinstance(s, str) and s.pseudonymize for s in self.sinks)
        if wanted and self.pseudonym_key is None:
            raise ValueError("a sink pseudonymizes fields: give decision_log.pseudonym_key")
        source = self.dashboard.source
        if source in ("redis_stream", "file") and not any(
            not isinstance(s, str) and getattr(s, source) is not None for s in self.sinks
        ):
            raise ValueError(f"dashboard.source is {source}: add a {source} sink to read from")
        return self


class LogConfig(Strict):
    """Operational logs (stderr); the decision log is `decision_log`."""

    # auto: JSON lines when stderr is not a terminal, text when it is.
    format: Literal["auto", "json", "text"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


# Route patterns are checked here for shape only, so mistakes carry file, line and
# key; `authgate.routing` compiles them and is the authority on the finer rules
# (escapes, dot segments, label lengths), reporting by key path too. Not imported
# here: config must load without routing (see config/snapshot.py).
_HOST_PATTERN = re.compile(r"(?:\*\.)?[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*\.?|\[[0-9a-f:.]+\]")


def _host_pattern(value: str) -> str:
    host = value.lower() if value.isascii() else value
    if _HOST_PATTERN.fullmatch(host):
        return host.removesuffix(".")
    raise ValueError(f"not a host pattern: {value!r} ({_host_hint(host)})")


def _host_hint(host: str) -> str:
    if ":" in host.rpartition("]")[2]:
        return "no port: a route matches its host on any port"
    if "*" in host:
        return "'*' only as the whole first label, as in *.example.com"
    if ".." in host or host.startswith("."):
        return "empty label"
    return "write an exact host like app.example.com, or *.example.com"


def _path_pattern(value: str) -> str:
    # Requests are matched in origin-form (RFC 9112 §3.2.1): a pattern without the
    # leading '/' could never match, which would silently disable the rule.
    if not value.startswith("/"):
        raise ValueError(f"must start with '/': {value!r}")
    return value


PathPattern = Annotated[str, AfterValidator(_path_pattern)]


class RouteMatch(Strict):
    host: str | list[str]
    path_prefix: PathPattern | None = None
    path_glob: PathPattern | None = None
    path_regex: str | None = None
    methods: list[str] | None = None

    @model_validator(mode="after")
    def _one_path_kind(self) -> RouteMatch:
        given = [k for k in ("path_prefix", "path_glob", "path_regex") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give at most one of path_prefix, path_glob, path_regex (got {given})")
        return self

    @field_validator("host")
    @classmethod
    def _host_patterns(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            return _host_pattern(value)
        if not value:
            raise ValueError("give at least one host")
        return [_host_pattern(item) for item in value]

    @field_validator("path_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value:
            raise ValueError("an empty regex; leave path_regex out to match every path")
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a regex: {error}") from None
        return value

    @field_validator("methods")
    @classmethod
    def _methods_upper(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("an empty list matches no request; leave methods out to allow all")
        for method in value:
            if not re.fullmatch(r"[A-Za-z]+", method):
                raise ValueError(f"not an HTTP method: {method!r}")
        return [m.upper() for m in value]


class RouteConfig(
    RouteAuthFields,
    RoutePolicyFields,
    RouteLimitFields,
    RouteAdaptiveFields,
    RouteWebSocketFields,
    RouteHeaderFields,
    RouteBodyFields,
):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    match: RouteMatch
    upstream: AnyHttpUrl
    public: list[PathPattern] = Field(default_factory=list)
    preserve_host: bool = False
    upstream_timeouts: UpstreamTimeouts | None = None

    @field_validator("upstream")
    @classmethod
    def _plain_upstream(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        # The client's query is what gets forwarded; a query, fragment or user info
        # on the upstream URL would be dropped silently, so it is refused instead.
        if value.query is not None or value.fragment is not None or value.username is not None:
            raise ValueError("write scheme://host[:port][/base-path]: no query, fragment or user")
        return value


class GatewayConfig(Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    secrets: SecretsConfig | None = None
    store: StoreConfig = Field(default_factory=StoreConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    providers: list[ProviderConfig] = Field(default_factory=list)
    geoip: GeoConfig | None = None
    devices: DevicesConfig = Field(default_factory=DevicesConfig)
    risk_history: RiskHistoryConfig = Field(default_factory=RiskHistoryConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    decision_log: DecisionLogConfig = Field(default_factory=DecisionLogConfig)
    headers: GatewayHeaders = Field(default_factory=GatewayHeaders)
    log: LogConfig = Field(default_factory=LogConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    pages: PagesConfig = Field(default_factory=PagesConfig)
    # Privileged access (docs/privileged-access.md): time-bound, approved elevation.
    entitlements: Entitlements = Field(default_factory=dict)
    access: AccessConfig = Field(default_factory=AccessConfig)
    # The AuthZEN 1.0 evaluation API on the admin listener (docs/agents.md); absent: off.
    authzen: AuthzenConfig | None = None
    routes: list[RouteConfig]

    @field_validator("providers")
    @classmethod
    def _unique_provider_ids(cls, providers: list[ProviderConfig]) -> list[ProviderConfig]:
        ids = [p.id for p in providers]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate provider ids {duplicates}")
        return providers

    @field_validator("routes")
    @classmethod
    def _unique_ids(cls, routes: list[RouteConfig]) -> list[RouteConfig]:
        # The error lands on `routes:` (a list validator has no item loc), so it
        # names both indexes for the operator to find them.
        seen: dict[str, int] = {}
        for index, route in enumerate(routes):
            if route.id in seen:
                raise ValueError(
                    f"duplicate route id {route.id!r} (routes[{seen[route.id]}] and routes[{index}])"
                )
            seen[route.id] = index
        return routes
