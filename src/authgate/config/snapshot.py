"""The runtime snapshot: one validated config plus its compiled route table.

Contract: `build_snapshot(path, environ)` loads and validates the file, compiles the
routes, their policies and their header templates — once: the checks and the
gateway use the same compiled values —, and returns a frozen `Snapshot`, or raises
`ConfigError` with every problem.
A snapshot is built completely before anyone sees it; hot reload swaps the one
reference to it, and each request reads it once at its start (STYLE.md, lesson 7).
Problems raised by route compilation that leave `file`/`line` empty get the file
and the line of their key path filled in here (`locate_problems`, also used by
`check-config` for its host checks and warnings). The example's placeholder secrets
(`placeholders`) are refused here, so `serve`, `check-config` and reloads refuse them;
only `authgate explain`, which never serves, asks for them to be let through.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from authgate.config.errors import ConfigError, ConfigProblem, format_key_path, parse_key_path
from authgate.config.loader import load_source, sorted_problems
from authgate.config.placeholders import MESSAGE, find_placeholders
from authgate.config.references import check_references
from authgate.config.schema import GatewayConfig
from authgate.config.yaml_source import Source

if TYPE_CHECKING:
    from authgate.mutate.templates import CompiledTemplates
    from authgate.policy.compile import RoutePolicy
    from authgate.routing.table import RouteTable


@dataclass(frozen=True)
class Compiled:
    """What the config compiles into, by route id (policies and templates)."""

    routes: RouteTable
    policies: Mapping[str, RoutePolicy]
    templates: Mapping[str, CompiledTemplates]


@dataclass(frozen=True)
class Snapshot:
    """Everything a request needs from the config, immutable."""

    config: GatewayConfig
    compiled: Compiled
    source: str  # the config file path as the user gave it
    loaded_at: float  # time.time() when it was built

    @property
    def routes(self) -> RouteTable:
        return self.compiled.routes


def build_snapshot(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    *,
    allow_placeholders: bool = False,
) -> Snapshot:
    """Load, validate and compile `path`; raises `ConfigError` with every problem.

    `allow_placeholders` is for tools that never serve (`authgate explain`): a policy
    question about the example needs no real secret."""
    config, source = load_source(path, environ)
    compiled, problems = compile_config(config, allow_placeholders=allow_placeholders)
    if compiled is None or problems:
        raise ConfigError(sorted_problems(locate_problems(problems, source)))
    return Snapshot(config, compiled, str(path), time.time())


def compile_config(
    config: GatewayConfig, *, allow_placeholders: bool = False
) -> tuple[Compiled | None, list[ConfigProblem]]:
    """The checks after the schema (references, placeholders, route, policy and template
    compilation) and what they compiled; None when a route does not compile."""
    # Imported here: routing, policy and mutate import config, and config must load
    # without them.
    from authgate.mutate.presets import compile_headers
    from authgate.policy.compile import compile_policies
    from authgate.routing.table import compile_routes

    problems = check_references(config)
    if not allow_placeholders:
        problems += placeholder_problems(config)
    policies, found = compile_policies(config)
    templates, more = compile_headers(config)
    problems += found + more
    try:
        routes = compile_routes(config.routes)
    except ConfigError as error:
        return None, problems + list(error.problems)
    return Compiled(routes, policies, templates), problems


def placeholder_problems(config: GatewayConfig) -> list[ConfigProblem]:
    """The example's placeholder secrets, refused by everything that builds a snapshot."""
    return [ConfigProblem("", None, format_key_path(p), MESSAGE) for p in find_placeholders(config)]


def locate_problems(problems: Iterable[ConfigProblem], source: Source) -> list[ConfigProblem]:
    """Fill in the file and line that route compilation cannot know."""
    return [_locate(problem, source) for problem in problems]


def _locate(problem: ConfigProblem, source: Source) -> ConfigProblem:
    if problem.file:
        return problem
    path = parse_key_path(problem.key)
    if path is None:
        return replace(problem, file=source.file)
    line = source.line_for(path) if problem.line is None else problem.line
    # In the user's spelling: `client_secret_file` when the value came from a file.
    return replace(problem, file=source.file, line=line, key=source.display(path))
