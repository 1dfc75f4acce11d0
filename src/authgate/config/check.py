"""`authgate check-config FILE`: validate a config offline and say what is wrong.

Contract: `check_config(path, out)` builds the snapshot exactly as `serve` would
(load, validate, compile routes) without opening any connection. It prints every
problem, one per line, and returns 1; or prints a one-line summary and returns 0:
`config.yaml: OK — 3 routes, 2 hosts, listen 0.0.0.0:8080`.
"""

from __future__ import annotations

from typing import TextIO

from authgate.config.errors import ConfigError
from authgate.config.schema import GatewayConfig
from authgate.config.snapshot import build_snapshot


def check_config(path: str, out: TextIO) -> int:
    """Validate `path`, write the verdict to `out`, return the exit code."""
    try:
        snapshot = build_snapshot(path)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=out)
        return 1
    print(summary(path, snapshot.config), file=out)
    return 0


def summary(path: str, config: GatewayConfig) -> str:
    """One line describing a valid config."""
    routes = _plural(len(config.routes), "route")
    hosts = _plural(len(distinct_hosts(config)), "host")
    return f"{path}: OK — {routes}, {hosts}, listen {config.server.listen}"


def distinct_hosts(config: GatewayConfig) -> set[str]:
    """Every host pattern the routes match, compared case-insensitively as DNS does."""
    hosts: set[str] = set()
    for route in config.routes:
        given = route.match.host
        hosts.update(host.lower() for host in ([given] if isinstance(given, str) else given))
    return hosts


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
