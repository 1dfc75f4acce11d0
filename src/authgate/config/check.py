"""`authgate check-config FILE`: everything `serve` would refuse, in one run.

Contract: `check_config(path, out, host=True)` runs, in one pass, every check `serve`
runs before it starts: the schema (load and validate), references, placeholders and
route compilation (`snapshot.compile_config`), then — unless `host=False`
(`--config-only`, for a machine that will not run the config) — this host's files,
folders and ports (`ops.preflight`, the very functions `serve` uses). A schema
problem stops there (the later checks need a valid config); otherwise every problem
of every stage is printed, one per line as `file:line key.path: message`, in file
order, and the exit code is 1. Warnings (`config.advice`, and what `serve` would log
at start: a state folder or key file others may read) print as
`file:line key.path: warning: message` and leave the exit code 0 when alone; then a
one-line summary: `config.yaml: OK — 3 routes, 2 hosts, listen 0.0.0.0:8080`, with
`(ports free now)` when they were checked — a port check holds for this moment only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TextIO

from authgate.config.advice import config_warnings
from authgate.config.errors import ConfigError, ConfigProblem
from authgate.config.loader import load_source, sorted_problems
from authgate.config.schema import GatewayConfig
from authgate.config.snapshot import compile_config, locate_problems
from authgate.config.yaml_source import Source


def check_config(path: str, out: TextIO, *, host: bool = True) -> int:
    """Check `path`, write the verdict to `out`, return the exit code."""
    try:
        config, source = load_source(path)
    except ConfigError as error:
        _print(error.problems, out)
        return 1
    compiled, errors = compile_config(config)
    warnings = config_warnings(config, compiled.routes if compiled is not None else None)
    if host:
        # Imported here: the host checks load the server's pages, TLS and GeoIP code.
        from authgate.ops.preflight import host_findings

        found = host_findings(config, ports=True)
        errors += found.errors
        warnings += found.warnings
    marked = [replace(w, message=f"warning: {w.message}") for w in warnings]
    _print(_in_file_order(errors + marked, source), out)
    if errors:
        return 1
    print(summary(path, config) + (" (ports free now)" if host else ""), file=out)
    return 0


def _in_file_order(problems: list[ConfigProblem], source: Source) -> list[ConfigProblem]:
    return sorted_problems(locate_problems(problems, source))


def _print(problems: tuple[ConfigProblem, ...] | list[ConfigProblem], out: TextIO) -> None:
    for problem in problems:
        print(problem, file=out)


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
