"""Load the operator's YAML file into a validated `GatewayConfig`.

Contract: `load_config(path, environ)` returns a `GatewayConfig` or raises
`ConfigError` listing every problem at once, in file order, each with the file as
the user gave it, the line and the key path. Loading is offline: it reads the config
file and the `*_file` secrets it names, and nothing else. The stages, in order:

1. read the file (a missing or unreadable file is one problem without a line);
2. parse YAML strictly (`yaml_source`: duplicate keys, non-standard tags, syntax);
3. expand `${VAR}` / `${VAR:-default}` in string values (`interpolation`);
4. replace `NAME_file` keys by `NAME` with the file contents (`secret_files`) — the
   `_file` suffix is reserved for this, no schema field may end in it;
5. validate with the schema (`validation` words pydantic's errors for operators);
   relative paths, there and in stage 4, are taken from the config file's directory
   (`paths`), never from the working directory.

A syntax error stops at stage 2; otherwise every stage runs so that all problems are
reported together, and a spot that already has a problem is not reported twice.
`load_source` also returns the `Source` (lines per key path), for later stages such
as route compilation to point their own problems at lines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from authgate.config.errors import ConfigError, ConfigProblem
from authgate.config.interpolation import interpolate_tree
from authgate.config.paths import CONFIG_DIR
from authgate.config.schema import GatewayConfig
from authgate.config.secret_files import resolve_secret_files
from authgate.config.validation import report_validation_error
from authgate.config.yaml_source import Data, Source, parse_yaml


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load and validate `path`; raises `ConfigError` with every problem found."""
    return load_source(path, environ)[0]


def load_source(
    path: str | Path, environ: Mapping[str, str] | None = None
) -> tuple[GatewayConfig, Source]:
    """Like `load_config`, also returning where each key path is in the file."""
    source = Source(str(path))
    data = _parse(Path(path), source)
    config_dir = Path(path).absolute().parent
    if data is not None:
        data = interpolate_tree(data, os.environ if environ is None else environ, source)
        data = resolve_secret_files(data, config_dir, source)
    config = _validate(data, config_dir, source)
    if source.problems or config is None:
        raise ConfigError(sorted_problems(source.problems))
    return config, source


def sorted_problems(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """File order: problems without a line (the whole file) first."""
    return sorted(problems, key=lambda problem: (problem.line is not None, problem.line or 0))


def _parse(path: Path, source: Source) -> Data:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        source.report((), f"cannot read the file: {error.strerror or error}")
        return None
    except UnicodeDecodeError as error:
        source.report((), f"not UTF-8 text (byte {error.start})")
        return None
    data = parse_yaml(text, source)
    if data is not None and not isinstance(data, dict):
        source.report((), "the file must be a mapping of top-level keys (server, routes, ...)")
        return None
    return data


def _validate(data: Data, config_dir: Path, source: Source) -> GatewayConfig | None:
    if data is None:
        return None
    try:
        return GatewayConfig.model_validate(data, context={CONFIG_DIR: config_dir})
    except ValidationError as error:
        report_validation_error(error, data, source)
        return None
