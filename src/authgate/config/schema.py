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

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _parse_duration(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("not a duration (write e.g. 30s, 5m, 8h)")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found is None:
            raise ValueError(f"not a duration: {value!r} (write e.g. 250ms, 30s, 5m, 8h, 7d)")
        return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]
    raise ValueError("not a duration (write e.g. 30s, 5m, 8h)")


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


Duration = Annotated[float, BeforeValidator(_parse_duration), AfterValidator(_positive)]


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


class Strict(BaseModel):
    """Base for every config model: unknown keys are errors, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(Strict):
    cert: str
    key: str


class UpstreamTimeouts(Strict):
    connect: Duration = 5.0
    read: Duration = 60.0
    total: Duration | None = None


class ServerConfig(Strict):
    listen: ListenAddress = "127.0.0.1:8080"
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    trusted_proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = Field(
        default_factory=list
    )
    tls: TlsConfig | None = None
    upstream_timeouts: UpstreamTimeouts = Field(default_factory=UpstreamTimeouts)
    upstream_pool_size: int = Field(default=256, ge=1)
    upstream_pool_size_per_host: int = Field(default=64, ge=0)
    shutdown_timeout: Duration = 15.0

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _strict_networks(cls, value: object) -> object:
        # ip_network(strict=True): "10.0.0.1/8" is a typo for 10.0.0.0/8, not a host.
        if isinstance(value, list):
            return [ipaddress.ip_network(str(item), strict=True) for item in value]
        return value


class FileSink(Strict):
    file: str


Sink = Literal["stdout"] | FileSink


class DecisionLogConfig(Strict):
    sinks: list[Sink] = Field(default_factory=lambda: ["stdout"])
    queue_size: int = Field(default=10_000, ge=1)


class RouteMatch(Strict):
    host: str | list[str]
    path_prefix: str | None = None
    path_glob: str | None = None
    path_regex: str | None = None
    methods: list[str] | None = None

    @model_validator(mode="after")
    def _one_path_kind(self) -> RouteMatch:
        given = [k for k in ("path_prefix", "path_glob", "path_regex") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give at most one of path_prefix, path_glob, path_regex (got {given})")
        return self

    @field_validator("methods")
    @classmethod
    def _methods_upper(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for method in value:
            if not re.fullmatch(r"[A-Za-z]+", method):
                raise ValueError(f"not an HTTP method: {method!r}")
        return [m.upper() for m in value]


class RouteConfig(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    match: RouteMatch
    upstream: AnyHttpUrl
    public: list[str] = Field(default_factory=list)
    preserve_host: bool = False
    upstream_timeouts: UpstreamTimeouts | None = None


class GatewayConfig(Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    decision_log: DecisionLogConfig = Field(default_factory=DecisionLogConfig)
    routes: list[RouteConfig]

    @field_validator("routes")
    @classmethod
    def _unique_ids(cls, routes: list[RouteConfig]) -> list[RouteConfig]:
        seen: set[str] = set()
        for route in routes:
            if route.id in seen:
                raise ValueError(f"duplicate route id {route.id!r}")
            seen.add(route.id)
        return routes
